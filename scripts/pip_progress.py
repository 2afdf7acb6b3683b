"""Run ``pip install -v ...`` and show what it is doing in one line, not nothing for 5 minutes.

``python scripts/pip_progress.py --log FILE [--append] -- COMMAND...``

The first ``make run`` compiles llama-cpp-python from source: about 5 minutes
on two free cores, over half an hour on a busy machine, and ``pip --quiet``
says nothing all that while.  This runs the command with every line of its
output going to FILE, and prints only what a person waiting needs: that a
compile has started and roughly how long it takes here, then its progress
(the ``[N/M]`` steps ninja prints, or make's ``[ NN%]``) updated in place on a
terminal and as a plain line every tenth of the way otherwise, then how long
it took.  A cached wheel installs in seconds and prints nothing.  If the
command fails, one line says why (the first compiler or CMake error, else
pip's last error) and where the whole log is; the exit status is the
command's.

Standard library only: it runs before anything else is installed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

PREFIX = "agentroom: "
CORE_MINUTES = 10.0
"""What a llama-cpp-python compile costs: about 5 minutes on two free cores (measured here)."""

PACKAGE = re.compile(r"Building wheel for (?P<name>\S+) \(", re.IGNORECASE)
"""pip starts building a package from source (pure Python, or native)."""
NATIVE = re.compile(
    r"^\s*(?:\*\*\* Configuring CMake|-- The CX* compiler identification|\[\s*\d+/\d+\])"
)
"""The build compiles: CMake configures, or ninja takes its first step."""
NINJA_STEP = re.compile(r"^\s*\[\s*(?P<done>\d+)/(?P<total>\d+)\]\s*(?P<what>.*)")
MAKE_STEP = re.compile(r"^\s*\[\s*(?P<percent>\d+)%\]\s*(?P<what>.*)")
SOURCE = re.compile(r"(?:-c|object)\s+(?P<path>\S+?\.(?:c|cc|cpp|cxx|m|cu))(?:\.o)?(?:\s|$)")
LINKED = re.compile(
    r"(?:-o|Linking \w+ (?:shared |static )?(?:library|executable|module))\s+"
    r"(?P<path>\S+\.(?:so|a|dylib)(?:\.\d+)*)(?:\s|$)"
)
DOWNLOADING = re.compile(r"^\s*Downloading (?P<name>\S+) \((?P<size>[\d.]+ [kMG]B)\)")
BIG = ("MB", "GB")
"""Downloads worth a line: a model package is about 100 MB."""
PHASES = {
    "*** Configuring CMake": "configuring the build",
    "*** Installing project into wheel": "packing the wheel",
}
REASONS = (
    re.compile(r"\S+:\d+:(?:\d+:)? (?:fatal )?error: .+"),
    re.compile(r"\b(?:cc|c\+\+|gcc|g\+\+|clang(?:\+\+)?|ld|collect2|ninja): (?:fatal )?error: .+"),
    re.compile(r"CMake Error.*"),
)
"""What explains a failed build, best first: a compiler's error, the linker's, then CMake's."""
TAIL = 2000
"""Lines kept to explain a failure: the error is near the end of the output."""
PIP_ERROR = re.compile(r"^\s*ERROR: (?P<what>.+)")
PIP_SUMMARY = re.compile(r"Failed to build|Failed building|Could not build wheels")
"""pip's closing errors, which only say that an earlier one happened."""
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def inert(text: str) -> str:
    """``text`` with no escape sequence or control character: a build log holds colour codes."""
    return CONTROL.sub("", ESCAPE.sub("", text)).strip()


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def estimate() -> str:
    """How long a compile takes on this machine now, from its cores and how busy they are."""
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    free = min(float(cores), max(0.5, cores - busy))
    minutes = max(1, round(CORE_MINUTES / free))
    return f"about {minutes} minute{'s' * (minutes != 1)} here now (5 on two idle cores)"


@dataclass
class Progress:
    """Reads the command's output line by line and decides what, if anything, to show."""

    out: TextIO
    tty: bool
    log: Path
    what: str
    """What is installed, for a failure before pip names the package it builds."""
    package: str | None = None
    compiling_since: float | None = None
    shown_tenth: int = -1
    drawn: bool = False
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL))

    def feed(self, raw: str) -> None:
        line = inert(raw)
        self.tail.append(line)
        if package := PACKAGE.search(line):
            self.package = package.group("name").lower().replace("_", "-")
        if NATIVE.match(line) and self.compiling_since is None:
            self.compiling_since = time.monotonic()
            self._say(
                f"compiling {self.package or self.what} once: {estimate()}; "
                f"later starts take a second (the full log: {self.log})"
            )
        if step := NINJA_STEP.match(line):
            self._step(int(step.group("done")), int(step.group("total")), step.group("what"))
        elif (made := MAKE_STEP.match(line)) and self.compiling_since is not None:
            self._step(int(made.group("percent")), 100, made.group("what"))
        elif (download := DOWNLOADING.match(line)) and download.group("size").endswith(BIG):
            self._say(f"downloading {download.group('name')} ({download.group('size')})")
        elif self.compiling_since is not None:
            for start, phase in PHASES.items():
                if line.startswith(start):
                    self._status(f"{phase} for {self.package or self.what}")

    def _step(self, done: int, total: int, what: str) -> None:
        if total <= 0 or self.compiling_since is None:
            return
        spent = time.monotonic() - self.compiling_since
        left = f", about {clock(spent / done * (total - done))} left" if 5 <= done < total else ""
        step = f"[{done:>{len(str(total))}}/{total}]"
        text = f"{step} compiling {self.package or self.what}{_piece(what)} ({clock(spent)}{left})"
        if self.tty:
            self._status(text)
        elif (tenth := done * 10 // total) > self.shown_tenth:
            self.shown_tenth = tenth
            self._say(text)

    def _status(self, text: str) -> None:
        """One line, redrawn in place on a terminal (cut to its width: a wrapped line cannot be)."""
        if not self.tty:
            self._say(text)
            return
        width = shutil.get_terminal_size((80, 24)).columns - 1
        self.out.write(f"\r\x1b[K{(PREFIX + text)[:width]}")
        self.out.flush()
        self.drawn = True

    def _say(self, text: str) -> None:
        if self.drawn:
            self.out.write("\r\x1b[K")
            self.drawn = False
        self.out.write(f"{PREFIX}{text}\n")
        self.out.flush()

    def finish(self, code: int) -> None:
        what = self.package or self.what
        if code != 0:
            self._say(f"could not install {what}: {reason(self.tail)}; the full log: {self.log}")
        elif self.compiling_since is not None:
            spent = clock(time.monotonic() - self.compiling_since)
            self._say(f"compiled {what} in {spent}; pip keeps the wheel, so this was the only time")


def _piece(what: str) -> str:
    """``: ggml-cpu.c`` for a step compiling a file, ``: linking libllama.so`` for one linking."""
    if found := SOURCE.search(what):
        return f": {Path(found.group('path')).name}"
    if found := LINKED.search(what):
        return f": linking {Path(found.group('path')).name}"
    return ""


def reason(lines: Iterable[str]) -> str:
    """Why a build failed, in one line: its first compiler or CMake error, else pip's last
    error that is not only a summary."""
    lines = list(lines)
    for pattern in REASONS:
        for i, line in enumerate(lines):
            if found := pattern.search(line):
                text = re.sub(r"\S*/", "", found.group(), count=1)  # a file's name, not its path
                more = (line for line in lines[i + 1 : i + 6] if line)
                while text.endswith(":") and (following := next(more, None)):
                    text += " " + following  # CMake says what on the next lines
                return _short(text)
    errors = [m.group("what") for line in lines if (m := PIP_ERROR.match(line))]
    causes = [error for error in errors if not PIP_SUMMARY.match(error)]
    last = next((line for line in reversed(lines) if line), "it exited without saying why")
    return _short((causes or errors or [last])[-1])


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run(command: list[str], log: Path, append: bool, what: str, out: TextIO) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    progress = Progress(out=out, tty=out.isatty(), log=log, what=what)
    try:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
        )
    except OSError as exc:
        progress.tail.append(f"ERROR: cannot run {command[0]}: {exc.strerror}")
        progress.finish(127)
        return 127
    assert child.stdout is not None
    with log.open("a" if append else "w", encoding="utf-8", errors="replace") as saved:
        saved.write(f"$ {' '.join(command)}\n")
        for line in child.stdout:
            saved.write(line)
            saved.flush()
            progress.feed(line)
    code = child.wait()
    progress.finish(code)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--log", type=Path, required=True, help="where all the output goes")
    parser.add_argument("--append", action="store_true", help="add to the log, not replace it")
    parser.add_argument("--what", default="the packages", help="what is installed, for messages")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    return run(command, args.log, args.append, args.what, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
