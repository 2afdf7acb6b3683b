"""One envelope formatter and one definition of quiet (``agentroom.room.formatting``).

First what an envelope is to a reader; then every place that shows a saved
session (``sessions show``, the Markdown export, the headless transcript, the
TUI's transcript and replay) agreeing on what it leaves out.
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual.app import App, ComposeResult
from typer.testing import CliRunner

from agentroom import Engine, HumanAgent
from agentroom.agents import LLMAgent
from agentroom.cli.console import envelope_text
from agentroom.cli.headless import TranscriptPrinter
from agentroom.cli.main import app as cli_app
from agentroom.core.protocol import Envelope, Message, MessageType, Role
from agentroom.models import ReplayClient
from agentroom.room.export import markdown_entry
from agentroom.room.formatting import QUIET_EVENTS, describe, is_quiet, is_routine
from agentroom.tui.widgets.transcript import QuietLine, SaidLine, Transcript
from tests.faults.hostile import HOSTILE, assert_inert


def envelope(
    content: str = "hi",
    *,
    sender: str = "alice",
    receiver: str = "*",
    type: MessageType = MessageType.MESSAGE,
    seq: int = 7,
    **metadata: Any,
) -> Envelope:
    return Envelope(
        sender=sender,
        receiver=receiver,
        content=content,
        type=type,
        seq=seq,
        session_id="s",
        metadata=metadata,
    )


def test_quiet_is_a_stream_chunk_or_a_usage_report_and_never_a_message():
    assert {"stream", "usage"} == QUIET_EVENTS
    assert is_quiet(envelope("par", type=MessageType.STATUS, event="stream"))
    assert is_quiet(envelope("a: 3 in, 1 out", type=MessageType.STATUS, event="usage"))
    assert not is_quiet(envelope("stopped", type=MessageType.STATUS, event="stopped"))
    assert not is_quiet(envelope("looked it up", type=MessageType.ACTION, event="tool"))
    # Dialogue is never hidden, whatever its metadata claims.
    assert not is_quiet(envelope("listen to me", event="usage"))


def test_an_entry_says_who_to_whom_what_kind_and_whether_it_was_cut_short():
    everyone = describe(envelope("hello"))
    assert (everyone.route, everyone.receiver, everyone.said) == ("alice", None, True)
    assert everyone.title == "message · alice #7"
    direct = describe(envelope("psst", receiver="bob", interrupted=True))
    assert direct.route == "alice → bob" and direct.interrupted
    status = describe(envelope("stopped", sender="room", type=MessageType.STATUS, event="stopped"))
    assert (status.kind, status.event, status.said, status.quiet) == (
        MessageType.STATUS,
        "stopped",
        False,
        False,
    )


def test_the_text_is_made_safe_for_a_terminal_and_kept_exact_for_a_file():
    hostile = envelope(HOSTILE, receiver="bob\x1b[2J")
    shown = describe(hostile)
    assert_inert(shown.text, "the terminal's text")
    assert_inert(shown.route, "the terminal's route")
    assert "[/]" in shown.text  # text, never interpreted
    kept = describe(hostile, "file")
    assert kept.text == HOSTILE and kept.route == "alice → bob\x1b[2J"
    assert shown.content == kept.content == HOSTILE  # the part-showing views start from this


def test_a_message_of_an_agents_own_view_is_described_as_its_envelope_was():
    env = envelope("psst", receiver="bob", seq=4)
    message = Message.from_envelope(env, Role.USER)
    assert describe(message).route == describe(env).route == "alice → bob"
    assert describe(message).title == describe(env).title == "message · alice → bob #4"


# -- every view of a saved session leaves out the same envelopes --------------------------------


async def saved_session(db_path) -> tuple[str, list[Envelope]]:
    """A streamed reply (chunks, then the message), its usage report, a human's line."""
    async with Engine.open(db_path, title="quiet") as engine:
        engine.register_agent(LLMAgent("a", ReplayClient(["one two three"])))
        human = engine.register_agent(HumanAgent("human"))
        handle = engine.get_agent("a").handle
        await handle.publish("one ", type=MessageType.STATUS, metadata={"event": "stream"})
        await engine.run_agent_turn("a")
        await human.say("thanks", to="a")
        await engine.bus.announce("turn over")
        envelopes = [e async for e in engine.store.read_envelopes(engine.session_id)]
        return engine.session_id, envelopes


def test_sessions_show_export_and_the_headless_transcript_agree_on_quiet(db_path):
    sid, envelopes = asyncio.run(saved_session(db_path))
    quiet = [e for e in envelopes if is_quiet(e)]
    assert {e.metadata["event"] for e in quiet} == {"stream", "usage"}
    runner = CliRunner()
    shown = runner.invoke(cli_app, ["sessions", "show", sid, "--db", str(db_path)]).output
    exported = runner.invoke(cli_app, ["export", sid, "--db", str(db_path)]).output
    printed: list[str] = []
    printer = TranscriptPrinter(lambda text="", end="\n": printed.append(str(text)), envelope_text)
    for env in envelopes:
        if env.metadata.get("event") != "stream":  # live, chunks are a preview of the reply
            printer.show(env)
    report = next(e.content for e in quiet if e.metadata["event"] == "usage")
    for out in (shown, exported, "\n".join(printed)):
        assert "one two three" in out and "thanks" in out and "turn over" in out
        assert report not in out  # no usage report as a line of its own
    # ... and the usage is summed once instead, in sessions show and in the export.
    assert "usage: a " in shown and "total " in shown
    assert exported.rstrip().endswith(shown.rstrip().splitlines()[-1].removeprefix("usage: "))


class TranscriptApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Transcript(id="transcript")


async def test_the_tui_transcript_leaves_out_the_same_envelopes(db_path):
    """...and folds the routine ones (a usage report among them) until asked to show them."""
    _, envelopes = await saved_session(db_path)
    app = TranscriptApp()
    async with app.run_test() as pilot:
        transcript = app.query_one(Transcript)
        await transcript.preload(envelopes)
        await pilot.pause()

        def shown() -> list[int | None]:
            lines = [*transcript.query(SaidLine), *transcript.query(QuietLine)]
            return sorted(w.envelope.seq for w in lines if w.display)

        assert shown() == [e.seq for e in envelopes if not is_quiet(e) and not is_routine(e)]
        transcript.show_routine(True)
        await pilot.pause()
        assert shown() == [e.seq for e in envelopes if not is_quiet(e) or is_routine(e)]
    assert any(is_routine(e) and e.metadata["event"] == "usage" for e in envelopes)


def test_an_interrupted_reply_says_so_in_every_text_form():
    """The TUI marked it; ``sessions show``, the export and headless showed it as whole."""
    env = envelope("half a thou", receiver="bob", interrupted=True)
    printed: list[str] = []
    TranscriptPrinter(lambda text="", end="\n": printed.append(str(text)), envelope_text).show(env)
    assert "alice → bob (interrupted): half a thou" in envelope_text(env).plain
    assert printed == ["alice → bob (interrupted): half a thou"]
    assert "\n### alice → bob (interrupted)\n" in markdown_entry(env)
