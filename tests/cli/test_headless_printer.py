"""The headless transcript: a streamed reply previewed as it comes, then kept or marked unsaved."""

from __future__ import annotations

from agentroom.bus import MessageBus
from agentroom.cli.headless import NOT_SAVED, TranscriptPrinter
from agentroom.core.protocol import Envelope
from tests.waiting import until


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


# -- what others say while a reply is previewed -------------------------------------------------


class Room:
    """A bus with a printer on it, and what the printer wrote."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.bus = MessageBus("r")
        self.alice = self.bus.register("alice")
        self.human = self.bus.register("human")
        self.printer = TranscriptPrinter(self.write, lambda env: f"[{env.content}]")
        self.feed = self.bus.subscribe_live(self.printer)

    def write(self, text: object = "", end: str = "\n") -> None:
        self.out.append(f"{text}{end}")

    async def printed(self) -> str:
        await self.feed.aclose()
        return "".join(self.out)


async def test_what_is_said_during_a_preview_comes_after_the_whole_reply_line():
    room = Room()
    await room.alice.publish_chunk("Call it ", turn="t1")
    await room.human.publish("wait!")
    await until(lambda: room.out == ["alice: ", "Call it "])  # the preview has begun
    room.printer.tell("unknown command /x")  # the answer to a line typed meanwhile
    await room.bus.announce("paused")
    await room.alice.publish_chunk("Miso.", turn="t1")
    await room.alice.publish("Call it Miso.", metadata={"turn": "t1"})
    assert await room.printed() == (
        "alice: Call it Miso.\nhuman: wait!\n» unknown command /x\n[paused]\n"
    )


async def test_an_interrupted_or_differently_saved_reply_is_not_printed_twice():
    room = Room()
    await room.alice.publish_chunk("Half a ", turn="t1")
    await room.alice.publish("Half a ", metadata={"turn": "t1", "interrupted": True})
    await room.alice.publish_chunk("Call it ", turn="t2")
    await room.alice.publish("Call it Miso.", metadata={"turn": "t2"})  # more than previewed
    await room.alice.publish_chunk("Tidy  ", turn="t3")
    await room.alice.publish("Tidy", metadata={"turn": "t3"})  # saved otherwise: said whole
    assert await room.printed() == (
        "alice: Half a   [interrupted]\nalice: Call it Miso.\nalice: Tidy  \nalice: Tidy\n"
    )


async def test_a_turn_that_fails_mid_preview_ends_its_line_then_says_why():
    room = Room()
    await room.alice.publish_chunk("Call it ", turn="t1")
    await room.human.publish("go on")
    await room.bus.announce(
        "alice could not take its turn: the server went away",
        metadata={"event": "turn_failed", "agent": "alice"},
    )
    assert await room.printed() == (
        "alice: Call it \nhuman: go on\n[alice could not take its turn: the server went away]\n"
    )


async def test_a_terminal_echo_of_a_typed_line_continues_the_preview_on_a_line_of_its_own():
    room = Room()
    await room.alice.publish_chunk("Call it ", turn="t1")
    await until(lambda: room.out == ["alice: ", "Call it "])
    room.printer.typed()  # the terminal echoed "wait!⏎" after "Call it "
    await room.human.publish("wait!")
    await room.alice.publish_chunk("Miso.", turn="t1")
    await room.alice.publish("Call it Miso.", metadata={"turn": "t1"})
    assert await room.printed() == "alice: Call it alice (continued): Miso.\nhuman: wait!\n"


async def test_a_preview_the_room_never_finishes_still_lets_what_it_held_out():
    room = Room()
    await room.alice.publish_chunk("Call it ", turn="t1")
    await room.human.publish("still there?")
    assert await room.printed() == "alice: Call it "  # held: the line is not ended yet
    room.printer.close()  # the room is over
    assert "".join(room.out) == "alice: Call it \nhuman: still there?\n"
