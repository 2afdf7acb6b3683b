"""A real terminal for end-to-end tests: tmux on a private server, one per test.

Each :class:`Terminal` starts its own tmux server (a socket in the temporary
folder, no user config), and the program gets exactly the environment the
test gives it, however tmux is set up: a tmux server hands a new session its
own global environment merged with the client's, and one that is already
running keeps the environment it started with (another test's database, or
the user's).  So tmux itself runs in the test's environment, the session is
given each variable (``new-session -e``), and the command is run under
``env -i`` with exactly those variables.  The server is killed on exit.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.environment import child_env

TERM = "tmux-256color"
"""What the pane is, unless the test says otherwise: ``env -i`` drops the TERM tmux sets."""


class Terminal:
    def __init__(self, folder: Path, *, width: int = 130, height: int = 40) -> None:
        # A socket path must stay short (about 100 bytes), so not inside a deep tmp_path.
        self.socket = str(Path(tempfile.gettempdir()) / f"agentroom-tmux-{uuid.uuid4().hex[:12]}")
        self.width, self.height = width, height
        self.session = "agentroom-test"
        self.env = child_env(folder)
        """tmux's own environment (the server starts with it), then the program's."""

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=30,
        )
        return done.stdout

    def start(self, command: str, env: dict[str, str]) -> Terminal:
        """Run the shell command ``command`` in a new session; ``env`` is its whole environment."""
        self.env = {"TERM": TERM} | env
        size = ("-x", str(self.width), "-y", str(self.height))
        given = [f"{name}={value}" for name, value in self.env.items()]
        exactly = shlex.join(["env", "-i", *given, "/bin/sh", "-c", command])
        each = [arg for variable in given for arg in ("-e", variable)]
        self.tmux("new-session", "-d", "-s", self.session, *size, *each, exactly)
        if not self.running:
            raise AssertionError(f"tmux could not start {command!r}")
        return self

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.tmux("kill-server")
        Path(self.socket).unlink(missing_ok=True)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", "-t", self.session, *(["-l"] if literal else []), *keys)

    def title(self) -> str:
        return self.tmux("display-message", "-p", "-t", self.session, "#{pane_title}").strip()

    @property
    def running(self) -> bool:
        return self.session in self.tmux("list-sessions", "-F", "#{session_name}")

    def wait_for(self, text: str | re.Pattern[str], timeout: float = 120) -> str:
        """Poll the screen until ``text`` (a string or a pattern) is on it.

        The deadline only guards against a hang: a loaded machine may take long.
        """
        end = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < end:
            shown = self.screen()
            if text in shown if isinstance(text, str) else text.search(shown):
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{shown}")

    def wait_closed(self, timeout: float = 120) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.running:
                return True
            time.sleep(0.2)
        return False
