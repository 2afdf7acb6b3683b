"""The headless transcript: a streamed reply previewed as it comes, then kept or marked unsaved."""

from __future__ import annotations

from agentroom.bus import MessageBus
from agentroom.cli.headless import NOT_SAVED, TranscriptPrinter
from agentroom.core.protocol import Envelope


async def printed(saved: bool) -> str:
    out: list[str] = []

    def write(text: object = "", end: str = "\n") -> None:
        out.append(f"{text}{end}")

    async def durable(env: Envelope) -> bool:
        return saved

    bus = MessageBus("r")
    alice = bus.register("alice")
    printer = bus.subscribe_live(TranscriptPrinter(write, lambda env: env.content, durable))
    await alice.publish_chunk("Call it ", turn="t1")
    await alice.publish_chunk("Miso.", turn="t1")
    await alice.publish("Call it Miso.", metadata={"turn": "t1"})
    await printer.aclose()
    return "".join(out)


async def test_a_streamed_reply_is_previewed_and_its_line_ends_once_it_is_saved():
    assert await printed(saved=True) == "alice: Call it Miso.\n"


async def test_a_previewed_reply_that_could_not_be_saved_says_so():
    assert await printed(saved=False) == f"alice: Call it Miso.{NOT_SAVED}\n"
