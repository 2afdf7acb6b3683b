"""The room in the terminal, driven with Textual's Pilot: content first, then snapshots."""

from __future__ import annotations

import io
import subprocess
import sys
from functools import partial
from pathlib import Path

from rich.console import Console

from agentroom.agents.llm import STREAM_INTERVAL
from agentroom.models.replay import ReplayClient
from agentroom.room.live import RoomOptions
from agentroom.room.workflows import parse_workflow
from agentroom.tui.app import AgentroomApp
from agentroom.tui.widgets.agent_pane import AgentPane
from agentroom.tui.widgets.human_input import HumanInput
from agentroom.tui.widgets.participants import Participants
from agentroom.tui.widgets.status_bar import StatusBar
from agentroom.tui.widgets.transcript import QuietLine, Transcript
from tests.environment import child_env
from tests.tui.drawn import screen_lines, screen_text
from tests.waiting import until_drawn

ROOM = """
name: Test room
task: Pick a name for the cat.
agents:
  - id: alice
    role: planner
  - id: bob
    role: critic
humans:
  - id: human
    timeout: {timeout}
strategy:
  name: round-robin
  order: [alice, bob, human]
termination:
  max_messages: {limit}
"""


def make_app(db_path, replies, *, timeout=5, limit=12, delay=0.0, label="replay"):
    workflow = parse_workflow(ROOM.format(timeout=timeout, limit=limit))
    model = ReplayClient(replies, delay=delay, label=label)
    options = RoomOptions(db=db_path, workflow=workflow, default_model=model)
    return AgentroomApp(options, db=db_path), model


def settled(app) -> bool:
    """The room has stopped and the screen has drawn everything up to the stop."""
    screen = app.room_screen
    if screen is None or not screen.stopped:
        return False
    return any("stopped:" in str(w.render()) for w in screen.query(QuietLine))


def turns(app):
    return [(t.sender, t.text) for t in app.room_screen.query_one(Transcript).turns]


async def test_a_full_room_run_on_the_replay_model(db_path):
    app, _ = make_app(
        db_path, ["Call it Miso.", "Too plain.", "Then Biscuit."], timeout=0.05, limit=4
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await until_drawn(pilot, lambda: settled(app))
        screen = app.room_screen
        assert turns(app) == [
            ("room", "Pick a name for the cat."),
            ("alice", "Call it Miso."),
            ("bob", "Too plain."),
            ("alice", "Then Biscuit."),
        ]
        quiet = [str(w.render()) for w in screen.query(QuietLine)]
        assert any("skipping their turn" in line for line in quiet)  # the silent human
        assert any("stopped: reached 4 messages" in line for line in quiet)
        people = screen.query_one(Participants)
        assert set(people.states) == {"alice", "bob", "human"}
        status = str(screen.query_one(StatusBar).render())
        assert "round-robin" in status and "model: replay" in status and "stopped" in status
        pane = screen.query_one(AgentPane)
        assert pane.agent_id == "alice"  # alice's own view, drawn at the pane's own pace
        await until_drawn(pilot, lambda: pane.shown == 4)


async def test_typing_to_everyone_and_to_one_agent(db_path):
    app, model = make_app(db_path, ["one", "two", "three", "four", "five", "six"], timeout=5)

    def prompts(agent: str) -> list[list[str]]:
        return [[m.content for m in r.messages] for r in model.requests if r.hints.agent == agent]

    async with app.run_test(size=(120, 40)) as pilot:
        box = app.room_screen.query_one(HumanInput)
        await until_drawn(pilot, lambda: "your turn" in str(box.border_title))
        assert box.has_focus
        await pilot.press(*"hello all", "enter")
        await until_drawn(pilot, lambda: ("human", "hello all") in turns(app))
        await until_drawn(pilot, lambda: "your turn" in str(box.border_title))
        await pilot.press(*"@b", "tab")  # completes to @bob
        assert box.text == "@bob "
        await pilot.press(*"just for you", "enter")
        await until_drawn(pilot, lambda: len(prompts("bob")) >= 3 and len(prompts("alice")) >= 3)
    # Everyone's next context has the broadcast; only bob's has the direct message.
    assert "human: hello all" in prompts("alice")[1] and "human: hello all" in prompts("bob")[1]
    assert "human (to you): just for you" in prompts("bob")[2]
    assert not any("just for you" in line for line in prompts("alice")[2])


async def test_stop_from_the_input_ends_the_room(db_path):
    app, _ = make_app(db_path, ["a"] * 20, timeout=5, limit=50)
    async with app.run_test(size=(120, 40)) as pilot:
        box = app.room_screen.query_one(HumanInput)
        await until_drawn(pilot, lambda: "your turn" in str(box.border_title))
        await pilot.press(*"/stop", "enter")
        await until_drawn(pilot, lambda: app.room_screen.stopped is not None)
        assert app.room_screen.stopped == "stopped by human"  # the human who typed it


async def test_switching_strategy_mid_session_from_the_menu(db_path):
    app, _ = make_app(db_path, ["x"] * 30, timeout=5, limit=40)
    async with app.run_test(size=(120, 40)) as pilot:
        box = app.room_screen.query_one(HumanInput)
        await until_drawn(pilot, lambda: "your turn" in str(box.border_title))
        await pilot.press("ctrl+s")
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "StrategyMenu")
        await pilot.press("down", "enter")  # round-robin -> role-based
        await until_drawn(
            pilot, lambda: app.room_screen.link.room.coordinator.strategy.name == "role-based"
        )
        await pilot.press(*"/stop", "enter")
        await until_drawn(pilot, lambda: app.room_screen.stopped is not None)
        quiet = [str(w.render()) for w in app.room_screen.query(QuietLine)]
    assert any("strategy switched from round-robin to role-based" in q for q in quiet)


async def test_interrupting_a_streaming_agent_keeps_its_partial_reply(db_path):
    long = " ".join(f"w{i}" for i in range(300))
    app, _ = make_app(db_path, [long, "short"], timeout=5, delay=0.01)
    async with app.run_test(size=(120, 40)) as pilot:
        transcript = app.room_screen.query_one(Transcript)
        await until_drawn(
            pilot, lambda: any(t.streaming and t.sender == "alice" for t in transcript.turns)
        )
        await pilot.press("escape")
        await until_drawn(pilot, lambda: any(t.has_class("interrupted") for t in transcript.turns))
        (alice,) = [t for t in transcript.turns if t.sender == "alice"]
        assert alice.text.startswith("w0 w1") and "w299" not in alice.text
        assert alice.has_class("interrupted")


async def test_a_reply_is_shown_as_it_streams_before_its_turn_ends(db_path):
    """The chunks reach the screen, never the database: the reply has no number until it ends."""
    long = " ".join(f"w{i}" for i in range(300))
    app, _ = make_app(db_path, [long, "short"], timeout=5, delay=0.01)
    async with app.run_test(size=(120, 40)) as pilot:
        transcript = app.room_screen.query_one(Transcript)

        def streaming():
            return [t for t in transcript.turns if t.streaming and "w5 " in t.body.source]

        await until_drawn(pilot, lambda: bool(streaming()))
        (alice,) = streaming()
        assert alice.sender == "alice" and alice.body.source.startswith("w0 w1 w2 w3 w4 w5 ")
        assert str(alice.head.render()) == "alice"  # not saved yet: no #seq
        people = app.room_screen.query_one(Participants)
        assert people.states["alice"] == "streaming"
        await pilot.press("escape")
        await until_drawn(pilot, lambda: any(t.has_class("interrupted") for t in transcript.turns))
        (kept,) = [t for t in transcript.turns if t.sender == "alice"]
        seq = kept.envelope.seq
        drawn = Console(width=120, record=True, file=io.StringIO())
        drawn.print(kept.render())
        assert drawn.export_text().startswith(f"alice  #{seq}  (interrupted)\n  w0 w1 w2 w3 w4 w5 ")
        engine = app.room_screen.link.room.engine
        await engine.flush()
        numbers = [env.seq async for env in engine.store.read_envelopes(engine.session_id)]
        assert numbers == list(range(1, len(numbers) + 1)) and seq in numbers  # no gaps


async def test_a_finished_streamed_reply_is_drawn_like_one_that_came_whole(db_path):
    """Whether a reply streams depends on the model's pace; the finished screen must not."""
    long = " ".join(f"w{i}" for i in range(40))
    app, _ = make_app(db_path, [long, "short"], timeout=0.05, limit=3, delay=0.01)
    async with app.run_test(size=(120, 40)) as pilot:
        transcript = app.room_screen.query_one(Transcript)
        await until_drawn(pilot, lambda: any(t.streaming for t in transcript.turns))
        await until_drawn(pilot, lambda: settled(app))
        alice = [t for t in transcript.turns if t.sender == "alice"]
        assert [type(t).__name__ for t in alice] == ["SaidLine"]
        assert alice[0].text == long


async def test_theme_is_chosen_and_remembered(db_path, tmp_path):
    app, _ = make_app(db_path, ["x"] * 5, timeout=0.05, limit=3)
    async with app.run_test(size=(100, 30)) as pilot:
        assert {"harbor", "ember", "paper"} <= set(app.available_themes)
        assert app.theme == "harbor"
        app.theme = "paper"
        await pilot.pause()
    assert "theme: paper" in (tmp_path / "config.yaml").read_text()
    again, _ = make_app(db_path, ["x"] * 5, timeout=0.05, limit=3)
    async with again.run_test(size=(100, 30)) as pilot:
        assert again.theme == "paper"


async def test_at_80_columns_a_long_model_name_is_cut_and_the_state_stays(db_path):
    """The participants keep their state column, the status bar its state, strategy and turn."""
    long = "openai-compat:meta-llama/Llama-3.3-70B-Instruct-Turbo@https://api.example.com/v1"
    app, _ = make_app(db_path, ["x"] * 20, timeout=5, limit=30, label=long)
    async with app.run_test(size=(80, 24)) as pilot:
        box = app.room_screen.query_one(HumanInput)
        await until_drawn(pilot, lambda: "your turn" in str(box.border_title))
        await pilot.pause()
        lines = screen_lines(app)
        status = lines[0].strip()
        assert status.startswith("running · round-robin · turn ") and status.endswith("…")
        people = {line.split("│")[-1].split()[0]: line.split("│")[-1] for line in lines[1:6]}
        assert people["alice"].rstrip().endswith("idle") and "openai-compat:meta" in people["alice"]
        assert "…" in people["alice"] and long not in people["alice"]
        assert people["bob"].rstrip().endswith("idle")
        assert people["human"].rstrip().endswith("your turn")
        table = app.room_screen.query_one(Participants)
        assert table.models["alice"] == long  # cut on screen only
        await pilot.resize_terminal(160, 40)  # wider: more of the name, the state still there
        await until_drawn(pilot, lambda: "Llama-3.3-70B" in screen_text(app))
        assert any(line.rstrip().endswith("your turn") for line in screen_lines(app)[1:6])


async def test_lines_of_a_message_are_shown_as_lines(db_path):
    """A human's ctrl+j and a model's newlines break the line (Markdown would join them)."""
    app, _ = make_app(db_path, ["Call it **Miso**.\nOr Biscuit."] * 20, timeout=5, limit=30)
    async with app.run_test(size=(120, 40)) as pilot:
        box = app.room_screen.query_one(HumanInput)
        await until_drawn(pilot, lambda: "your turn" in str(box.border_title))
        await pilot.press(*"line one", "ctrl+j", *"line two", "shift+enter", *"three", "enter")
        await until_drawn(pilot, lambda: ("human", "line one\nline two\nthree") in turns(app))
        await pilot.pause()
        said = [line.split("│")[0].strip() for line in screen_lines(app)]  # the transcript
        at = said.index("line one")
        assert said[at - 1].startswith("human  #") and said[at + 1 : at + 3] == [
            "line two",
            "three",
        ]
        at = said.index("Call it Miso.")
        assert said[at + 1] == "Or Biscuit."
        assert not any("line one line two" in line or "Miso. Or" in line for line in said)


async def test_status_lines_are_folded_until_f2_and_the_choice_is_remembered(db_path, _config):
    app, _ = make_app(db_path, ["Miso.", "Plain."], timeout=0.05, limit=4)
    async with app.run_test(size=(120, 40)) as pilot:
        await until_drawn(pilot, lambda: settled(app))
        screen = app.room_screen
        picks = [w for w in screen.query(QuietLine) if "next: alice" in str(w.render())]
        assert picks and all(w.has_class("routine") and not w.display for w in picks)
        assert "next: alice" not in screen_text(app) and "stopped:" in screen_text(app)
        await pilot.press("f2")
        await until_drawn(pilot, lambda: "next: alice, chosen by" in screen_text(app))
        assert "status_lines: shown" in _config.read_text()
    again, _ = make_app(db_path, ["Miso.", "Plain."], timeout=0.05, limit=4)
    async with again.run_test(size=(120, 40)) as pilot:
        await until_drawn(pilot, lambda: settled(again))
        await until_drawn(pilot, lambda: "next: alice, chosen by" in screen_text(again))
        box = again.room_screen.query_one(HumanInput)
        box.insert("/fold")  # the command does the same
        await pilot.press("enter")
        await until_drawn(pilot, lambda: "next: alice" not in screen_text(again))
        assert "status_lines: folded" in _config.read_text()


async def test_an_ended_room_shows_as_stopped_in_the_browser_and_resumes(db_path):
    """The app holds an ended room open (to export or fork it); the browser says it ended."""
    app, _ = make_app(db_path, ["Miso.", "Plain.", "Biscuit.", "Fine."], timeout=0.05, limit=3)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await until_drawn(pilot, lambda: settled(app))
        first = app.room_screen
        sid = first.link.room.engine.session_id
        await pilot.press("ctrl+b")
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "SessionBrowser")
        await until_drawn(pilot, lambda: sid in app.screen.rooms)
        [row] = [line for line in screen_lines(app) if sid[:18] in line]
        assert " stopped " in row and "running" not in row
        await pilot.press("d")  # not while this app holds it: it says what to do
        await until_drawn(
            pilot, lambda: any("open in this agentroom" in n.message for n in app._notifications)
        )
        await pilot.press("r")
        await until_drawn(
            pilot, lambda: app.room_screen is not None and app.room_screen is not first
        )
        room = app.room_screen.link.room
        await until_drawn(pilot, lambda: room.engine is not None and room.engine.bus.last_seq > 0)
        assert room.engine.session_id == sid and first.link.room not in app.rooms
        assert [s for s in app.screen_stack if s.__class__.__name__ == "RoomScreen"] == [
            app.room_screen
        ]  # the ended room's screen gave its place to the resumed one


def test_room_snapshot(snap_compare, db_path, monkeypatch):
    import agentroom.store.sqlite as store_module

    monkeypatch.setattr(store_module, "new_id", lambda: "01a2f000-0000-7000-8000-000000000000")
    # Each word comes slower than the stream's 50 ms interval, so each reply is streamed
    # whatever the load; stream chunks take no seq, so the numbers in the picture are
    # those of the saved envelopes alone.
    app, _ = make_app(
        db_path,
        ["Call it **Miso**.", "Too plain.", "Then Biscuit."],
        timeout=0.05,
        limit=4,
        delay=STREAM_INTERVAL * 2,
    )

    async def settle(pilot):
        done = partial(settled, app)
        await until_drawn(pilot, done)
        # A blinking cursor is drawn or not by the clock: hold it still (shown) for the picture.
        # TextArea caches a line drawn while the cursor was blinked off under the same key
        # as one drawn with blinking stopped, so the cache is dropped too (Textual 8.2.8).
        box = app.room_screen.query_one(HumanInput)
        box.cursor_blink = False
        box.notify_style_update()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(110, 32), run_before=settle)


async def test_the_workflow_picker_then_the_strategy_menu_open_a_room(db_path, monkeypatch):
    monkeypatch.setenv("AGENTROOM_OFFLINE_WPS", "0")
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    app = AgentroomApp(None, db=db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "WorkflowPicker")
        from textual.widgets import OptionList

        picker = app.screen.query_one(OptionList)
        names = [picker.get_option_at_index(i).id for i in range(picker.option_count)]
        assert [name.rsplit("/", 1)[-1] for name in names] == [
            "code_review.yaml",
            "debate.yaml",
            "pair_review.yaml",
            "research_team.yaml",
            "support_desk.yaml",
            "trip_planner.yaml",
        ]
        picker.highlighted = 5  # trip_planner
        await pilot.press("enter")
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "StrategyMenu")
        await pilot.press("enter")  # keep the workflow's own strategy (plan-driven)
        await until_drawn(pilot, lambda: app.room_screen is not None and app.room_screen.stopped)
        coordinator = app.room_screen.link.room.coordinator
        assert coordinator.strategy.name == "plan-driven"
        assert app.room_screen.stopped == "the plan is complete (3 steps done)"


async def test_fork_from_a_replay_continues_live(db_path, monkeypatch):
    from agentroom import Engine
    from agentroom.models.offline import OfflineModel

    monkeypatch.setenv("AGENTROOM_OFFLINE_WPS", "0")
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    workflow = parse_workflow(ROOM.format(timeout=0.01, limit=5))
    async with Engine.open(db_path) as engine:
        await engine.run_workflow(workflow, default_model=OfflineModel(words_per_second=0))
        source = engine.session_id
    app = AgentroomApp(None, db=db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "WorkflowPicker")
        await app.action_sessions()
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "SessionBrowser")
        await pilot.press("enter")  # replay the only session
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "ReplayScreen")
        await pilot.press("space")  # pause the autoplay
        for _ in range(3):
            await pilot.press("n")
        at = app.screen.position
        await pilot.press("f")  # fork here, and continue it live
        await until_drawn(
            pilot, lambda: app.room_screen is not None and app.room_screen.link.room.engine
        )
        room = app.room_screen.link.room
        fork = room.engine.session_id
        await until_drawn(
            pilot, lambda: len(room.coordinator.room.recent) >= 1 and room.engine.bus.last_seq > at
        )
        assert fork != source
        first_new = [e for e in room.coordinator._seen if e.type.value == "message"]
        assert first_new and all((e.seq or 0) > at for e in first_new)
        info = await room.engine.store.get_room(fork)
        assert info.metadata["forked_from"] == {"session": source, "seq": at}


async def test_scrolling_to_the_top_pages_older_turns_back_in(db_path):
    from textual.app import App, ComposeResult

    from agentroom import Engine, ScriptedAgent

    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("a", lambda turn: f"line {len(turn.messages)}"))
        for _ in range(120):
            await engine.run_agent_turn("a")
        sid = engine.session_id
        store = engine.store

        async def older(before: int, count: int):
            return await store.read_envelopes_before(sid, before, count)

        class Host(App):
            def compose(self) -> ComposeResult:
                yield Transcript(window=40, reader=older)

        app = Host()
        async with app.run_test(size=(80, 24)) as pilot:
            transcript = app.query_one(Transcript)
            await transcript.add([e async for e in store.read_envelopes(sid)])
            await pilot.pause()
            assert len(transcript.turns) == 40 and transcript.oldest_seq == 80
            transcript.scroll_end(animate=False)
            await pilot.pause()
            transcript.scroll_home(animate=False)
            await until_drawn(pilot, lambda: transcript.oldest_seq < 80)
            first = transcript.turns[0]
            assert first.seq == transcript.oldest_seq + 1 and len(transcript.turns) == 90


async def test_the_agent_pane_follows_a_history_longer_than_memory(db_path):
    from textual.app import App, ComposeResult

    from agentroom import Engine, ScriptedAgent

    class Host(App):
        def compose(self) -> ComposeResult:
            yield AgentPane(id="pane")

    def shown(pane: AgentPane) -> list[str]:
        return [strip.text.split(": ", 1)[-1] for strip in pane.lines]

    async with Engine.open(db_path) as engine:
        bob = engine.register_agent(ScriptedAgent("bob", ["unused"])).handle
        conv = engine.register_agent(ScriptedAgent("alice", ["unused"])).conversation
        conv.keep = 10  # memory holds 10 to 20 of alice's messages
        app = Host()
        async with app.run_test(size=(100, 50)) as pilot:
            pane = app.query_one(AgentPane)
            pane.show("alice", conv.messages)
            for i in range(100):
                await bob.publish(f"m{i}")
                if i % 7 == 6:  # the room's screen catches up a batch at a time
                    pane.catch_up(conv.messages)
            pane.catch_up(conv.messages)
            await pilot.pause()
            assert shown(pane) == [f"m{i}" for i in range(100)]  # each once, in order
            conv.checkpoint("here")
            for i in range(30):  # more than memory keeps, between two looks
                await bob.publish(f"n{i}")
            pane.catch_up(conv.messages)
            await pilot.pause()
            assert shown(pane)[100].startswith("… ") and shown(pane)[-1] == "n29"
            conv.restore("here")  # another history now, read back (as before a turn)...
            await conv.load_window()
            pane.catch_up(conv.messages)  # ...and the pane starts over with it
            await pilot.pause()
            assert shown(pane) == [f"m{i}" for i in range(90, 100)]


def test_closing_the_app_while_its_room_opens_leaves_no_connection(tmp_path):
    """Quit at any moment of opening: no database connection (and its thread) outlives the app.

    Textual cancels a screen's workers without waiting; a room cancelled mid-open
    used to leave its connection open, whose thread then called into a closed loop.
    """
    child = Path(__file__).resolve().parents[1] / "quick_quit_child.py"
    done = subprocess.run(
        [sys.executable, str(child), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=child_env(tmp_path, AGENTROOM_CONFIG=str(tmp_path / "config.yaml")),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "failures=[] left=0", done.stderr[-2000:]
