"""The core install stays lean: only serving (and joining) a room needs the server extra.

Run as real processes: one imports everything a room in one process uses and
must not have loaded Starlette, uvicorn or websockets; one runs ``agentroom
serve`` where they cannot be imported, and gets one line naming the extra.
"""

from __future__ import annotations

import subprocess
import sys

from tests.environment import child_env

SERVER_PACKAGES = ("starlette", "uvicorn", "websockets")


def test_a_room_in_one_process_imports_nothing_of_the_server_extra(tmp_path):
    code = (
        "import sys\n"
        "import agentroom, agentroom.cli.main, agentroom.tui.app, agentroom.room.live\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_PACKAGES!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=child_env(tmp_path), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_serve_without_the_server_extra_says_how_to_install_it(tmp_path):
    code = (
        "import sys\n"
        "for name in ('starlette', 'uvicorn', 'websockets'):\n"
        "    sys.modules[name] = None  # as if not installed\n"
        "from agentroom.cli.main import main\n"
        "sys.argv = ['agentroom', 'serve', '--port', '0']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=child_env(tmp_path), capture_output=True, text=True
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'agentroom[server]'" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
