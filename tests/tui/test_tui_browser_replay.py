"""The session browser and the replay screen, driven through Textual's Pilot.

The sessions are made by scripted engine runs (no model), so every line the
screens show is known in advance.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import DataTable

from agentroom import Engine, MessageType, Reply, ScriptedAgent, SqliteStore
from agentroom.core.errors import SessionNotFoundError
from agentroom.core.ids import datetime_to_micros
from agentroom.room.sessions import Sessions
from agentroom.tui import replay as replay_module
from agentroom.tui.browser import ConfirmDelete, SessionBrowser
from agentroom.tui.replay import JumpTo, ReplayLog, ReplayScreen
from tests.tui.drawn import screen_lines, screen_text
from tests.waiting import until_drawn

SIZE = (100, 30)

# -- sessions to browse -----------------------------------------------------------------------


async def planning_session(db: Path) -> str:
    """alice and bob: six envelopes, one a stream chunk, one private, one an action."""
    async with Engine.open(db, title="planning") as engine:
        engine.register_agent(ScriptedAgent("alice", ["hello bob", Reply("psst", to="bob")]))
        engine.register_agent(ScriptedAgent("bob", ["sure, let's plan", "ok"]))
        await engine.run_agent_turn("alice")  # 1
        bob = engine.get_agent("bob").handle
        await bob.publish("sure, ", type=MessageType.STATUS, metadata={"event": "stream"})  # 2
        await engine.run_agent_turn("bob")  # 3
        await engine.run_agent_turn("alice")  # 4: to bob only
        await engine.run_agent_turn("bob")  # 5
        alice = engine.get_agent("alice").handle
        await alice.publish("looked it up", type=MessageType.ACTION, metadata={"event": "tool"})
        return engine.session_id


async def review_session(db: Path, title: str = "review", turns: int = 3) -> str:
    async with Engine.open(db, title=title) as engine:
        engine.register_agent(
            ScriptedAgent("carol", [f"carol line {i}" for i in range(1, 1 + turns)])
        )
        for _ in range(turns):
            await engine.run_agent_turn("carol")
        return engine.session_id


async def three_sessions(db: Path) -> dict[str, str]:
    plan = await planning_session(db)
    review = await review_session(db)
    solo = await review_session(db, "solo", turns=1)
    return {"planning": plan, "review": review, "solo": solo}


class BrowserApp(App[None]):
    """Opens the store in its own loop and shows the browser; collects what it returns."""

    def __init__(self, db: Path, *, autoplay: bool = False) -> None:
        super().__init__()
        self.db = db
        self.autoplay = autoplay
        self.results: list[object] = []
        self.store: SqliteStore | None = None

    async def on_mount(self) -> None:
        self.store = await SqliteStore.open(self.db)
        self.push_screen(
            SessionBrowser(Sessions(self.store), autoplay=self.autoplay), self.results.append
        )

    async def on_unmount(self) -> None:
        if self.store is not None:
            await self.store.close()


class ReplayApp(App[None]):
    def __init__(self, db: Path, session_id: str, **options: object) -> None:
        super().__init__()
        self.db = db
        self.session_id = session_id
        self.options = options
        self.results: list[object] = []
        self.store: SqliteStore | None = None

    async def on_mount(self) -> None:
        self.store = await SqliteStore.open(self.db)
        screen = ReplayScreen(Sessions(self.store), self.session_id, **self.options)  # type: ignore[arg-type]
        self.push_screen(screen, self.results.append)

    async def on_unmount(self) -> None:
        if self.store is not None:
            await self.store.close()


async def browsing(pilot, app: App[None]) -> SessionBrowser:
    """The browser, once it lists the sessions."""
    await until_drawn(pilot, lambda: isinstance(app.screen, SessionBrowser) and app.screen.rooms)
    assert isinstance(app.screen, SessionBrowser)
    return app.screen


def table_rows(screen: SessionBrowser) -> list[list[str]]:
    table = screen.query_one("#sessions", DataTable)
    return [[str(cell).strip() for cell in table.get_row_at(i)] for i in range(table.row_count)]


UP_TO_4 = [  # a message as the room draws it: its header, then its body under the name
    "#1     alice",
    "       hello bob",
    "#3     bob",
    "       sure, let's plan",
    "#4     alice → bob",
    "       psst",
]
"""The planning session replayed up to #4 (#2, a stream chunk, is not shown)."""


def log_lines(screen: ReplayScreen) -> list[str]:
    return [strip.text.rstrip() for strip in screen.query_one(ReplayLog).lines]


# -- the browser ------------------------------------------------------------------------------


async def test_the_browser_lists_every_saved_session(db_path):
    ids = await three_sessions(db_path)
    app = BrowserApp(db_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await browsing(pilot, app)
        rows = table_rows(screen)
        # most recently active first: title, last active, agents, messages, state, short id
        assert [(r[0], r[2], r[3], r[4]) for r in rows] == [
            ("solo", "carol", "1", "stopped"),
            ("review", "carol", "3", "stopped"),
            ("planning", "alice, bob", "4", "stopped"),
        ]
        assert [r[5] for r in rows] == [ids[t][:18] for t in ("solo", "review", "planning")]
        assert all(len(r[1]) == len("2026-01-02 10:00") for r in rows)
        assert screen.query_one("#browser-heading").render().plain == "Saved sessions (3)"
        header = screen_lines(app)[1].split()
        assert header == "title last active (UTC) agents messages state id".split()
        assert screen.selected == ids["solo"]
        for binding in SessionBrowser.BINDINGS:
            assert binding.id and binding.description  # type: ignore[union-attr]


async def test_resume_returns_the_session_and_escape_returns_nothing(db_path):
    ids = await three_sessions(db_path)
    app = BrowserApp(db_path)
    async with app.run_test(size=SIZE) as pilot:
        await browsing(pilot, app)
        await pilot.press("down", "r")
        await until_drawn(pilot, lambda: app.results)
        assert app.results == [("resume", ids["review"])]
        app.push_screen(SessionBrowser(Sessions(app.store)), app.results.append)  # type: ignore[arg-type]
        await browsing(pilot, app)
        await pilot.press("escape")
        await until_drawn(pilot, lambda: len(app.results) == 2)
        assert app.results[1] is None


async def test_the_rows_are_in_the_order_of_the_time_they_show(db_path):
    """The heading says what the order is: a session active again moves to the top."""
    ids = await three_sessions(db_path)
    async with Engine.open(db_path, session_id=ids["planning"]) as engine:  # active again
        engine.register_agent(ScriptedAgent("alice", ["back again"]))
        await engine.run_agent_turn("alice")
    app = BrowserApp(db_path)
    async with app.run_test(size=SIZE) as pilot:
        await browsing(pilot, app)
        rows = table_rows(app.screen)
        assert [r[0] for r in rows] == ["planning", "solo", "review"]
        assert [r[1] for r in rows] == sorted((r[1] for r in rows), reverse=True)
        planning = app.screen.rooms[ids["planning"]]
        assert rows[0][1] == f"{planning.updated_at:%Y-%m-%d %H:%M}"


async def test_home_and_end_move_the_selection_and_d_acts_on_it(db_path):
    ids = await three_sessions(db_path)
    app = BrowserApp(db_path)
    async with app.run_test(size=SIZE) as pilot:
        browser = await browsing(pilot, app)
        await pilot.press("end")
        assert browser.selected == ids["planning"]  # the last row
        await pilot.press("d")
        await until_drawn(pilot, lambda: isinstance(app.screen, ConfirmDelete))
        assert app.screen.room.id == ids["planning"]
        assert "Delete “planning”?" in screen_text(app)
        await pilot.press("n")
        await until_drawn(pilot, lambda: app.screen is browser)
        await pilot.press("home")
        assert browser.selected == ids["solo"]  # the first
        await pilot.press("down", "end", "r")
        await until_drawn(pilot, lambda: app.results)
        assert app.results == [("resume", ids["planning"])]


async def test_an_empty_database_says_so(db_path):
    app = BrowserApp(db_path)
    async with app.run_test(size=SIZE) as pilot:
        await until_drawn(pilot, lambda: isinstance(app.screen, SessionBrowser))
        await pilot.pause()
        screen = app.screen
        assert screen.query_one("#browser-empty").display
        assert not screen.query_one("#sessions").display
        await pilot.press("enter", "r", "d")  # nothing to act on: nothing happens
        await pilot.pause()
        assert app.screen is screen and app.results == []


async def test_delete_asks_first_and_then_removes_the_session(db_path):
    ids = await three_sessions(db_path)
    app = BrowserApp(db_path)
    async with app.run_test(size=SIZE) as pilot:
        browser = await browsing(pilot, app)
        await pilot.press("down", "d")
        await until_drawn(pilot, lambda: isinstance(app.screen, ConfirmDelete))
        assert app.screen.room.id == ids["review"]
        await pilot.press("n")  # keep it
        await until_drawn(pilot, lambda: app.screen is browser)
        assert [r[0] for r in table_rows(browser)] == ["solo", "review", "planning"]

        await pilot.press("d")
        await until_drawn(pilot, lambda: isinstance(app.screen, ConfirmDelete))
        await pilot.press("y")
        await until_drawn(pilot, lambda: app.screen is browser and len(browser.rooms) == 2)
        assert [r[0] for r in table_rows(browser)] == ["solo", "planning"]
        assert ids["review"] not in browser.rooms
        with pytest.raises(SessionNotFoundError):
            await app.store.get_room(ids["review"])  # type: ignore[union-attr]

        await pilot.press("d")  # the cursor stayed put: now on "planning"; the button says yes
        await until_drawn(pilot, lambda: isinstance(app.screen, ConfirmDelete))
        await pilot.click("#confirm-yes")
        await until_drawn(pilot, lambda: app.screen is browser and len(browser.rooms) == 1)
        assert [r[0] for r in table_rows(browser)] == ["solo"]
    with sqlite3.connect(db_path) as db:
        assert [t for (t,) in db.execute("SELECT title FROM rooms")] == ["solo"]
        assert db.execute("SELECT count(*) FROM envelopes").fetchone() == (1,)


async def test_a_running_session_is_neither_resumed_nor_deleted(db_path):
    ids = await three_sessions(db_path)
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE rooms SET title = ? WHERE uid = ?", ("[live] room", ids["solo"]))
    app = BrowserApp(db_path)
    async with (
        Engine.open(db_path, session_id=ids["solo"]),  # a live agentroom has it open
        app.run_test(size=SIZE, notifications=True) as pilot,
    ):
        browser = await browsing(pilot, app)
        assert table_rows(browser)[0][0] == "[live] room"  # a title is not markup
        assert table_rows(browser)[0][4] == "running"
        await pilot.press("r")
        await pilot.pause()
        assert app.results == [] and app.screen is browser
        await pilot.press("d")
        await until_drawn(pilot, lambda: isinstance(app.screen, ConfirmDelete))
        await pilot.press("y")
        await until_drawn(pilot, lambda: app.screen is browser)
        await pilot.pause()
        assert ids["solo"] in browser.rooms and len(table_rows(browser)) == 3
        said = [n.message for n in app._notifications]
        assert any("is running" in m for m in said), said
        assert any("stop it before deleting it" in m for m in said), said


# -- the replay -------------------------------------------------------------------------------


async def open_replay(pilot, app: BrowserApp, title: str) -> ReplayScreen:
    browser = await browsing(pilot, app)
    while browser.rooms[browser.selected].title != title:  # type: ignore[index]
        await pilot.press("down")
    await pilot.press("enter")
    await until_drawn(pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen.room)
    return app.screen  # type: ignore[return-value]


async def test_replay_steps_through_the_log_in_seq_order(db_path):
    await three_sessions(db_path)
    app = BrowserApp(db_path)
    async with app.run_test(size=SIZE) as pilot:
        replay = await open_replay(pilot, app, "planning")
        assert replay.state == "paused" and replay.status_line.endswith("#0 / 6   speed 1x")
        assert log_lines(replay) == []

        await pilot.press("n")
        assert [(e.seq, e.sender, e.content) for e in replay.shown] == [(1, "alice", "hello bob")]
        assert "#0 / 6" not in replay.status_line and "#1 / 6" in replay.status_line

        await pilot.press("n")  # the stream chunk (#2) is skipped: bob's whole message is #3
        await pilot.press("right")
        await pilot.pause()
        assert [(e.seq, e.sender, e.content) for e in replay.shown] == [
            (1, "alice", "hello bob"),
            (3, "bob", "sure, let's plan"),
            (4, "alice", "psst"),
        ]
        assert log_lines(replay) == UP_TO_4
        assert replay.status_line == "paused   #4 / 6   speed 1x"

        await pilot.press("n", "n")
        await pilot.pause()
        assert log_lines(replay)[-3:] == [
            "#5     bob",
            "       ok",
            "#6     [action] alice: looked it up",
        ]
        assert replay.state == "ended" and replay.status_line == "ended   #6 / 6   speed 1x"
        await pilot.press("n")  # nothing more
        assert len(replay.shown) == 5

        app.theme = "textual-light"  # the window is drawn again in the new theme's colours
        await pilot.pause()
        assert log_lines(replay)[-3:-1] == ["#5     bob", "       ok"]
        assert len(log_lines(replay)) == 9

        await pilot.press("escape")
        await until_drawn(pilot, lambda: isinstance(app.screen, SessionBrowser))
        assert app.results == []  # back to the browser, which stays


async def test_replay_draws_a_message_whole_with_its_lines_and_markdown(db_path):
    """As the live room does: not squeezed onto one line, not joined into one paragraph."""
    async with Engine.open(db_path, title="lines") as engine:
        engine.register_agent(ScriptedAgent("alice", ["Call it **Miso**.\nOr *Biscuit*."]))
        engine.register_agent(ScriptedAgent("bob", ["Options:\n- Miso\n- Biscuit\n\nFine?"]))
        await engine.run_agent_turn("alice")
        await engine.run_agent_turn("bob")
        sid = engine.session_id
    app = ReplayApp(db_path, sid, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        await until_drawn(pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen.room)
        replay = app.screen
        await pilot.press("n", "n")
        await pilot.pause()
        assert log_lines(replay) == [
            "#1     alice",
            "       Call it Miso.",  # bold, drawn as bold: no asterisks
            "       Or Biscuit.",
            "#2     bob",
            "       Options:",
            "",
            "        • Miso",
            "        • Biscuit",
            "",
            "       Fine?",
        ]
        assert "Or Biscuit." in screen_text(app)


async def test_replay_says_a_reply_was_interrupted(db_path):
    """As the live room and ``sessions show`` do: a reply cut short is not shown as whole."""
    from tests.cli.test_saved_sessions import interrupted_session

    sid = await interrupted_session(str(db_path))
    app = ReplayApp(db_path, sid, autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        await until_drawn(pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen.room)
        replay = app.screen
        for _ in range(50):  # step to con's reply (the session holds far fewer envelopes)
            if any(line.endswith("con") for line in log_lines(replay)):
                break
            await pilot.press("n")
        assert any(line.endswith("pro (interrupted)") for line in log_lines(replay))
        assert not any("con (interrupted)" in line for line in log_lines(replay))


async def test_status_lines_are_folded_in_the_replay_until_f2(db_path):
    """The routine lines (who speaks next) fold as in the room, and the choice is the app's."""
    from agentroom.models.offline import OfflineModel
    from agentroom.room.workflows import parse_workflow
    from agentroom.tui.app import AgentroomApp
    from tests.tui.test_tui_room import ROOM

    async with Engine.open(db_path) as engine:
        workflow = parse_workflow(ROOM.format(timeout=0.01, limit=4))
        await engine.run_workflow(workflow, default_model=OfflineModel(words_per_second=0))
    app = AgentroomApp(None, db=db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "WorkflowPicker")
        await app.action_sessions()
        await until_drawn(pilot, lambda: isinstance(app.screen, SessionBrowser))
        await pilot.press("enter")
        await until_drawn(pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen.room)
        replay = app.screen
        await pilot.press("space")  # pause the autoplay, and see the whole session
        await pilot.press("g")
        await until_drawn(pilot, lambda: isinstance(app.screen, JumpTo))
        await pilot.press("9", "9", "enter")
        await until_drawn(pilot, lambda: app.screen is replay and replay.state == "ended")

        def picks() -> list[str]:
            return [line for line in log_lines(replay) if "[status] room: next: " in line]

        assert picks() == [] and any(line.startswith("#") for line in log_lines(replay))
        await pilot.press("f2")
        await until_drawn(pilot, lambda: len(picks()) >= 3)
        assert replay.state == "ended" and "next: alice" in screen_text(app)
        await pilot.press("f2")
        await until_drawn(pilot, lambda: picks() == [])


async def test_speed_goes_from_1x_to_50x_and_back(db_path):
    ids = await three_sessions(db_path)
    app = ReplayApp(db_path, ids["planning"], autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        await until_drawn(pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen.room)
        replay = app.screen
        seen = []
        for _ in range(7):
            await pilot.press("plus")
            seen.append(replay.status_line.rsplit(" ", 1)[-1])
        assert seen == ["2x", "5x", "10x", "20x", "50x", "50x", "50x"]
        await pilot.press("minus", "minus")
        assert replay.status_line.endswith("speed 10x")
        for _ in range(6):
            await pilot.press("minus")
        assert replay.status_line.endswith("speed 1x")
        await pilot.press("equals_sign")
        assert replay.status_line.endswith("speed 2x")
        assert replay.speed == 2
        for binding in ReplayScreen.BINDINGS:
            assert binding.id and binding.description  # type: ignore[union-attr]


async def test_jump_rebuilds_the_view_up_to_a_seq(db_path):
    ids = await three_sessions(db_path)
    app = ReplayApp(db_path, ids["planning"], autoplay=False)
    async with app.run_test(size=SIZE) as pilot:
        await until_drawn(pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen.room)
        replay = app.screen
        await pilot.press("g")
        await until_drawn(pilot, lambda: isinstance(app.screen, JumpTo))
        await pilot.press("4", "enter")
        await until_drawn(pilot, lambda: app.screen is replay and replay.position == 4)
        await pilot.pause()
        assert [e.seq for e in replay.shown] == [1, 3, 4]
        assert log_lines(replay) == UP_TO_4
        assert replay.status_line == "paused   #4 / 6   speed 1x"

        await pilot.press("g")  # backwards, and the next step goes on from there
        await until_drawn(pilot, lambda: isinstance(app.screen, JumpTo))
        await pilot.press("1", "enter")
        await until_drawn(pilot, lambda: app.screen is replay and replay.position == 1)
        await pilot.press("n")
        await pilot.pause()
        assert [e.seq for e in replay.shown] == [1, 3]
        assert log_lines(replay) == [
            "#1     alice",
            "       hello bob",
            "#3     bob",
            "       sure, let's plan",
        ]

        await pilot.press("g")  # past the end: clamped, and the replay has ended
        await until_drawn(pilot, lambda: isinstance(app.screen, JumpTo))
        await pilot.press("9", "9", "enter")
        await until_drawn(pilot, lambda: app.screen is replay and replay.position == 6)
        assert replay.state == "ended" and [e.seq for e in replay.shown] == [1, 3, 4, 5, 6]

        await pilot.press("g", "escape")  # cancelled: nothing moves
        await until_drawn(pilot, lambda: app.screen is replay)
        assert replay.position == 6


async def test_fork_from_the_replay_returns_the_new_session_to_the_app(db_path):
    ids = await three_sessions(db_path)
    app = BrowserApp(db_path)
    async with app.run_test(size=SIZE) as pilot:
        replay = await open_replay(pilot, app, "planning")
        await pilot.press("f")  # nothing shown yet: refused
        await pilot.pause()
        assert app.screen is replay
        await pilot.press("n", "n", "f")
        await until_drawn(pilot, lambda: app.results)
        [(kind, fork_id)] = app.results
        assert kind == "fork" and fork_id not in ids.values()
        store = app.store
        assert store is not None
        fork = await store.get_room(fork_id)
        assert fork.title == "planning (fork at #3)"
        assert fork.metadata["forked_from"] == {"session": ids["planning"], "seq": 3}
        copied = [(e.seq, e.sender, e.type, e.content) async for e in store.read_envelopes(fork_id)]
        source = [
            (e.seq, e.sender, e.type, e.content)
            async for e in store.read_envelopes(ids["planning"], limit=3)
        ]
        assert copied == source
        assert [c[3] for c in copied] == ["hello bob", "sure, ", "sure, let's plan"]
        assert (await store.get_room(ids["planning"])).last_seq == 6  # the source is untouched


async def test_autoplay_plays_to_the_end_in_chunks_and_keeps_a_bounded_window(db_path, monkeypatch):
    sid = await review_session(db_path, "long", turns=120)
    monkeypatch.setattr(replay_module, "CHUNK", 7)  # many small reads
    app = ReplayApp(db_path, sid, speed=50, window=40)
    async with app.run_test(size=SIZE) as pilot:
        await until_drawn(pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen.room)
        replay = app.screen
        assert replay.state == "playing" and replay.status_line.startswith("playing")
        await until_drawn(pilot, lambda: replay.state == "ended")
        await pilot.pause()
        assert replay.position == 120 and replay.status_line == "ended   #120 / 120   speed 50x"
        assert [e.seq for e in replay.shown] == list(range(81, 121))  # only the last 40
        lines = log_lines(replay)  # 40 lines: the last 20 messages, two lines each
        assert len(lines) == 40 and lines[-2:] == ["#120   carol", "       carol line 120"]
        assert lines[0] == "#101   carol"

        await pilot.press(*["minus"] * 5, "space")  # at the end, play starts over (at 1x)
        await until_drawn(pilot, lambda: replay.position >= 1)
        await pilot.press("space")
        state = replay.state
        assert state == "paused"
        stopped_at = replay.position
        await pilot.pause(0.1)
        assert replay.position == stopped_at < 120


async def test_an_unknown_session_closes_the_replay_with_nothing(db_path):
    await three_sessions(db_path)
    app = ReplayApp(db_path, "no-such-session", autoplay=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until_drawn(pilot, lambda: app.results)
        assert app.results == [None]
        assert any("no saved session" in n.message for n in app._notifications)


def test_delay_uses_real_gaps_divided_by_speed_capped():
    from datetime import UTC, datetime, timedelta

    from agentroom.core.protocol import Envelope

    screen = ReplayScreen.__new__(ReplayScreen)
    t0 = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
    screen.shown = replay_module.deque([Envelope(sender="a", created_at=t0)])
    for gap, speed, want in [
        (1.0, 1, 1.0),
        (1.0, 5, 0.2),
        (60, 1, 2.0),
        (0.0, 1, 0.2),
        (3, 2, 1.5),
    ]:
        screen.speed = speed
        nxt = Envelope(sender="b", created_at=t0 + timedelta(seconds=gap))
        assert screen.delay_before(nxt) == pytest.approx(want)


# -- snapshots --------------------------------------------------------------------------------

FIXED = {  # title -> (uid, created_at)
    "planning": ("0190aaaa-0000-7000-8000-00000000aaaa", "2026-01-02 10:00"),
    "review": ("0190bbbb-0000-7000-8000-00000000bbbb", "2026-01-03 11:30"),
    "solo": ("0190cccc-0000-7000-8000-00000000cccc", "2026-01-04 12:45"),
}


def snapshot_db(tmp_path: Path) -> Path:
    """Three sessions with fixed ids and times, so the pictures do not change from run to run."""
    from datetime import UTC, datetime

    db = tmp_path / "snap.db"
    asyncio.run(three_sessions(db))
    with sqlite3.connect(db) as conn:
        for title, (uid, when) in FIXED.items():
            us = datetime_to_micros(datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=UTC))
            conn.execute(
                "UPDATE rooms SET uid = ?, created_at = ?, updated_at = ? WHERE title = ?",
                (uid, us, us, title),
            )
    return db


def test_browser_snapshot(snap_compare, tmp_path):
    app = BrowserApp(snapshot_db(tmp_path))

    async def ready(pilot) -> None:
        await browsing(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_replay_snapshot(snap_compare, tmp_path):
    app = ReplayApp(snapshot_db(tmp_path), FIXED["planning"][0], autoplay=False)

    async def stepped(pilot) -> None:
        await until_drawn(pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen.room)
        await pilot.press("n", "n", "n", "n", "n", "plus", "plus")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=stepped)
