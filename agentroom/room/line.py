"""The one grammar of a human's line, and the one place a parsed line acts on the room.

Every human interface (the TUI's input, ``--headless`` stdin, and a network
client's ``line`` frames) only parses with :func:`parse_line` and acts with
:func:`apply`, so a line means the same thing wherever it is typed.  The
grammar, for a line with its surrounding blanks removed:

- an empty line does nothing;
- ``TEXT`` says TEXT to everyone;
- ``@NAME TEXT`` (also ``@NAME: TEXT`` or ``@NAME, TEXT``) says TEXT to NAME
  only, and when NAME is an agent, gives it the next turn, whatever the
  strategy (:mod:`agentroom.coordination.floor`): a line whose first word
  starts with ``@`` is addressed.  ``@NAME`` alone says ``@NAME`` to NAME (a
  nudge: NAME, your turn).  NAME must be in the room: an unknown one
  (``@bobb``, ``@bob's``) is an error that names who is, and nothing is said,
  so a private line never goes to everyone by a typo.  ``@* TEXT`` says TEXT
  to everyone (the way to start such a line with ``@``);
- ``/aside NAME TEXT`` says TEXT to NAME only and gives nobody a turn (an
  envelope marked :attr:`~agentroom.core.events.Event.ASIDE`); NAME is checked
  as for ``@NAME``;
- ``/COMMAND [ARGUMENT]`` steers the room (:data:`COMMANDS`; names are not
  case-sensitive); an unknown command, or an argument where none belongs, is an
  error that lists the commands;
- ``//TEXT`` says ``/TEXT`` to everyone (a line that starts with ``/``).

A line said while an agent is mid-turn is said at once, said once the agent is
cut short, or refused, as the workflow's ``room.while_speaking`` says
(``enqueue``, ``interrupt``, ``reject``; LangGraph's double-texting); commands
are never refused.  :func:`apply` is where every interface's lines go, so the
policy holds wherever a line is typed.

An interface may add commands of its own (the TUI's ``/export``, ``/fork``,
``/open N``) by passing them to :func:`parse_line`; it handles those itself,
and everything else goes to :func:`apply`.  Errors and replies are one line
that says what to do; any text quoted from the line is made terminal-safe and
short, so a hostile or huge line cannot flood or drive a screen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agentroom.agents import HumanAgent
from agentroom.core.events import Event
from agentroom.core.protocol import BROADCAST, Envelope, MessageType
from agentroom.core.text import one_line
from agentroom.room.live import LiveRoom
from agentroom.room.workflow_schema import STRATEGIES, canonical_choice


@dataclass(frozen=True, slots=True)
class Say:
    """Say ``text`` to ``to`` (a participant id, or everyone)."""

    text: str
    to: str = BROADCAST
    aside: bool = False
    """Said to one without giving them the next turn (``/aside``)."""

    @property
    def metadata(self) -> dict[str, Any] | None:
        """What the envelope carries besides the text: an aside is marked as one."""
        return {"event": Event.ASIDE} if self.aside else None


@dataclass(frozen=True, slots=True)
class Command:
    """Run command ``name`` (lower case, no slash) with ``arg`` (empty when none)."""

    name: str
    arg: str = ""


@dataclass(frozen=True, slots=True)
class LineError:
    """The line means nothing the room can do; ``message`` says what to type instead."""

    message: str


Parsed = Say | Command | LineError


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command: its name, its argument (``""`` none, ``NAME`` needed, ``[N]`` optional)."""

    name: str
    arg: str
    does: str

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.arg}" if self.arg else f"/{self.name}"


ASIDE = "aside"
"""The command whose argument is a line to one participant, not a single word."""

COMMANDS: Mapping[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec("stop", "", "end the run; whoever is speaking keeps what they said"),
        CommandSpec("pause", "", "give nobody a turn until /resume"),
        CommandSpec("resume", "", "give turns again"),
        CommandSpec("interrupt", "", "stop whoever is speaking; their partial reply is kept"),
        CommandSpec(
            "strategy", "[NAME]", "how the next speaker is chosen (alone: which and the choices)"
        ),
        CommandSpec(ASIDE, "NAME TEXT", "say TEXT to NAME only, without giving NAME a turn"),
        CommandSpec("help", "", "this list: every command, and how to address one participant"),
    )
}
"""The commands every interface accepts."""

_QUOTED = 40
"""Characters of the line an error quotes at most."""


def parse_line(
    line: str, participants: Iterable[str], local: Mapping[str, CommandSpec] | None = None
) -> Parsed | None:
    """What ``line`` asks for (None: nothing, it is blank); see the module docstring.

    ``participants`` are the ids a line may address; ``local`` the interface's own
    commands besides :data:`COMMANDS`.
    """
    text = line.strip()
    if not text:
        return None
    if text.startswith("//"):
        return Say(text[1:])
    if text.startswith("/"):
        return _command(text[1:], {**COMMANDS, **(local or {})}, participants)
    if text.startswith("@"):
        return _addressed(text, participants)
    return Say(text)


def _command(body: str, commands: Mapping[str, CommandSpec], participants: Iterable[str]) -> Parsed:
    words = body.split(None, 1) if body[:1] and not body[:1].isspace() else ["", body]
    name, arg = words[0], words[1].strip() if len(words) > 1 else ""
    spec = commands.get(name.lower())
    if spec is None:
        what = f"/{_short(name)} is not a command" if name else "a command goes right after the /"
        return LineError(
            f"{what}; {command_list(commands)}; to say a line that starts with /, start it with //"
        )
    if spec.name == ASIDE:
        return _aside(arg, participants, spec)
    if arg and not spec.arg:
        return LineError(
            f"/{spec.name} takes nothing after it (not {_quoted(arg)}); type /{spec.name} alone"
        )
    if spec.arg and not spec.arg.startswith("[") and not arg:
        return LineError(f"/{spec.name} needs {spec.arg}; type {spec.usage}")
    if arg and any(c.isspace() for c in arg):
        return LineError(
            f"/{spec.name} takes one {spec.arg.strip('[]')}, not {_quoted(arg)}; type {spec.usage}"
        )
    return Command(spec.name, arg)


def _short(text: str) -> str:
    """``text`` as an error shows it: on one terminal-safe line, short (a 5 MB line is cut
    before it is cleaned)."""
    return one_line(text[: _QUOTED * 2], _QUOTED)


def _quoted(text: str) -> str:
    """``text`` as an error quotes it: :func:`_short`, in quotes."""
    return repr(_short(text))


def _addressed(text: str, participants: Iterable[str]) -> Parsed:
    word, rest = (*text.split(None, 1), "")[:2]
    name = word[1:-1] if word[-1:] in (":", ",") else word[1:]
    if not name:  # "@ hi": an @ on its own is text
        return Say(text)
    rest = rest.strip()
    if name == BROADCAST:
        return Say(rest) if rest else LineError("type something after @* (it goes to everyone)")
    return _unknown(name, participants) or Say(rest or f"@{name}", to=name)


def _aside(arg: str, participants: Iterable[str], spec: CommandSpec) -> Parsed:
    word, text = (*arg.split(None, 1), "", "")[:2]
    name = word.lstrip("@").rstrip(":,")  # "/aside @bob: hi" as "/aside bob hi"
    if not name or name == BROADCAST:
        return LineError(f"/{spec.name} says a line to one participant; type {spec.usage}")
    if not text.strip():
        return _unknown(name, participants) or LineError(
            f"type something after /{spec.name} {name} (it goes to {name} only)"
        )
    return _unknown(name, participants) or Say(text.strip(), to=name, aside=True)


def _unknown(name: str, participants: Iterable[str]) -> LineError | None:
    """The error for a line to ``name`` when nobody here is called that (None: someone is)."""
    known = list(participants)
    if name in known:
        return None
    who = ", ".join(known) or "nobody yet"
    return LineError(
        f"nobody named {_quoted(name)} is in the room, so nothing was said; "
        f"who is here: {who} (@* TEXT says TEXT to everyone)"
    )


def command_list(commands: Mapping[str, CommandSpec] | None = None) -> str:
    """``commands: /stop, /pause, ...`` on one line."""
    return "commands: " + ", ".join(spec.usage for spec in (commands or COMMANDS).values())


SAYING: tuple[tuple[str, str], ...] = (
    ("TEXT", "says TEXT to everyone"),
    ("@NAME TEXT", "says TEXT to NAME only, and gives NAME the next turn"),
    ("@* TEXT", "says TEXT to everyone (a line that starts with @)"),
    ("//TEXT", "says /TEXT to everyone (a line that starts with /)"),
)
"""How a line that is not a command is said, as ``/help`` lists it (see the module docstring)."""

HELP_HEADING = "what you can type:"
"""The first line of ``/help``'s answer."""


def help_rows(local: Mapping[str, CommandSpec] | None = None) -> list[tuple[str, str]]:
    """What ``/help`` lists: every command (``local`` too) and every way to say a line,
    each as (what to type, what it does).  A screen may lay them out as a table."""
    commands = {**COMMANDS, **(local or {})}
    return [(spec.usage, spec.does) for spec in commands.values()] + list(SAYING)


def help_text(local: Mapping[str, CommandSpec] | None = None) -> str:
    """``/help``'s answer: :func:`help_rows`, one to a line, aligned.

    Every command is listed with what it does, so a newcomer learns the room
    from it (it used to name the commands only, and to send a reader to /help
    for more).  Nothing here is one interface's own key: a screen adds those.
    """
    rows = help_rows(local)
    width = max(len(typed) for typed, _ in rows)
    return "\n".join([HELP_HEADING, *(f"  {typed:<{width}}  {does}" for typed, does in rows)])


# -- acting on the room ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """What the interface tells the one who typed the line ("" when the room says it itself).

    ``ok`` is False when the line could not do what it asked (a warning).
    """

    text: str = ""
    ok: bool = True
    envelope: Envelope | None = None
    """What the line became, when it said something: a network client's acknowledgement
    waits until this is on disk (:meth:`LiveRoom.saved`) and names its ``seq``."""


async def apply(
    room: LiveRoom,
    parsed: Parsed,
    human: HumanAgent | None,
    local: Mapping[str, CommandSpec] | None = None,
) -> Reply:
    """Do what a parsed line asks, as ``human`` (None: a room without one; only commands work).

    Whatever changes the room is announced by the room itself (``paused``,
    ``strategy switched ...``, ``stopped: ...``); the reply is only for the one
    who typed.  ``local`` are the interface's own commands, for ``/help``.
    """
    if isinstance(parsed, LineError):
        return Reply(parsed.message, ok=False)
    if isinstance(parsed, Say):
        if human is None:
            return Reply("this room has no human participant; only commands work", ok=False)
        return await _say(room, parsed, human)
    return await _run(room, parsed, human.id if human is not None else "the human", local)


async def _say(room: LiveRoom, line: Say, human: HumanAgent) -> Reply:
    """Say ``line`` as ``human``, as ``room.while_speaking`` has it when an agent is mid-turn:
    at once (``enqueue``), after cutting the agent short (``interrupt``), or not (``reject``)."""
    speaking = room.speaking_agent
    policy = room.while_speaking if speaking is not None else "enqueue"
    if policy == "reject":
        return Reply(
            f"{speaking} is speaking, so nothing was said; wait for its turn to end, "
            "or type /interrupt and say it again",
            ok=False,
        )

    async def say() -> Envelope:
        return await human.say(line.text, to=line.to, metadata=line.metadata)

    coordinator = room.coordinator
    if policy == "interrupt" and coordinator is not None:
        said = await coordinator.interject(say)
    else:
        said = await say()
    if said.type is MessageType.STATUS:  # bounced: whoever it was for has left
        return Reply(said.content, ok=False)
    return Reply(envelope=said)


async def act(room: LiveRoom, text: str, human: HumanAgent | None) -> Reply:
    """Parse ``text`` in the shared grammar and do it as ``human``: the whole of a line for
    an interface with no commands of its own (a room link's ``send``, a network client's
    ``line`` frame).  A blank line does nothing and answers nothing."""
    parsed = parse_line(text, room.participants)
    return Reply() if parsed is None else await apply(room, parsed, human)


async def _run(
    room: LiveRoom, command: Command, by: str, local: Mapping[str, CommandSpec] | None
) -> Reply:
    name = command.name
    if name == "help":
        return Reply(help_text(local))
    coordinator = room.coordinator
    if coordinator is None:
        return Reply("the room is not open yet", ok=False)
    if name == "stop":
        coordinator.stop(f"stopped by {by}")
    elif name == "pause":
        await coordinator.pause()
    elif name == "resume":
        await coordinator.resume()
    elif name == "interrupt":
        who = room.interrupt()
        return Reply(f"interrupted {who}" if who else "nobody is speaking")
    elif name == "strategy":
        if not command.arg:
            return Reply(
                f"the strategy is {coordinator.strategy.name}; "
                f"/strategy NAME switches to one of: {', '.join(STRATEGIES)}"
            )
        try:
            # Any spelling of a name (``/strategy round robin``), as in a workflow file.
            await coordinator.switch_strategy(
                canonical_choice(command.arg, STRATEGIES) or command.arg
            )
        except Exception as exc:  # a bad name must not end the room
            return Reply(f"cannot switch strategy: {one_line(str(exc))}", ok=False)
    else:
        return Reply(f"/{name} is not something this room can do here", ok=False)
    return Reply()
