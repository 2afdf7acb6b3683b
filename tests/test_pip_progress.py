"""The first ``make run`` says what it does while llama-cpp-python compiles (pip_progress.py).

The script runs for real, on recorded ``pip install -v`` output played back by
a small command in its place.  tests/recorded holds real recordings made on a
2-core machine: llama-cpp-python 0.3.36 built from source (193 ninja steps,
17 minutes under load), a cached wheel, a build with no C compiler (``CC``
pointing nowhere), and one whose compile fails (a header with ``#error``
forced in).  On a pipe it prints plain lines; on a terminal (a pty) it
redraws one line in place.
"""

from __future__ import annotations

import gzip
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.environment import child_env

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "pip_progress.py"
RECORDED = Path(__file__).with_name("recorded")
BUILD = RECORDED / "pip-build-llama-cpp-python.log.gz"
NO_COMPILER = RECORDED / "pip-build-no-compiler.log.gz"
COMPILE_ERROR = RECORDED / "pip-build-compile-error.log.gz"
CACHED = RECORDED / "pip-cached-wheel.txt"
PLAY = (
    "import gzip, sys; path = sys.argv[1]; "
    "opened = gzip.open if path.endswith('.gz') else open; "
    "sys.stdout.write(opened(path, 'rt', encoding='utf-8').read()); sys.exit(int(sys.argv[2]))"
)
"""Stands in for pip: writes a recorded output and exits with the recorded status."""

COLOURED = """\
  [2/193] /usr/bin/gcc -DGGML_BUILD -O3 -o ggml.c.o -c /tmp/pip-install-x/llama-cpp-python_y/ggml.c
  FAILED: vendor/llama.cpp/ggml/src/CMakeFiles/ggml-base.dir/ggml.c.o
  /tmp/pip-install-x/llama-cpp-python_y/vendor/llama.cpp/ggml/src/ggml.c:7:10: \
\x1b[01;31m\x1b[Kfatal error: \x1b[m\x1b[K\x1b[01m\x1b[Kcstdint\x1b]0;PWNED\x07\x1b[m\x1b[K: \
No such file or directory
  ninja: build stopped: subcommand failed.
  ERROR: Failed building wheel for llama-cpp-python
"""
"""A compiler's error with its colours forced on, and a title-setting sequence in it."""

OFFLINE = """\
WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after \
connection broken by 'NewConnectionError': /simple/llama-cpp-python/
ERROR: Could not find a version that satisfies the requirement llama-cpp-python==0.3.36 (from \
versions: none)
ERROR: No matching distribution found for llama-cpp-python==0.3.36
ERROR: Failed to build 'file:///home/ada/agentroom' when installing build dependencies
"""


def script(log: Path) -> list[str]:
    """The command, up to the one it runs (as the Makefile has it)."""
    return [sys.executable, str(SCRIPT), "--log", str(log), "--what", "llama-cpp-python", "--"]


def progress(
    tmp_path: Path, recorded: Path, status: int = 0, **env: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The script on a pipe, playing ``recorded`` back as pip would print it."""
    log = tmp_path / "logs" / "local-build.log"
    done = subprocess.run(
        [*script(log), sys.executable, "-c", PLAY, str(recorded), str(status)],
        capture_output=True,
        text=True,
        env=child_env(tmp_path, **env),
        timeout=60,
    )
    return done, log


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recorded.txt"
    path.write_text(text)
    return path


def recorded(path: Path) -> str:
    return gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()


def test_a_build_from_source_says_so_then_shows_its_steps_and_how_long_it_took(tmp_path):
    done, log = progress(tmp_path, BUILD)
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0] == "agentroom: downloading llama_cpp_python-0.3.36.tar.gz (76.6 MB)"
    assert re.fullmatch(
        r"agentroom: compiling llama-cpp-python once: about \d+ minutes? here now \(5 on two idle "
        rf"cores\); later starts take a second \(the full log: {re.escape(str(log))}\)",
        lines[1],
    ), lines[1]
    assert lines[2] == "agentroom: configuring the build for llama-cpp-python"
    time = r"(?:\d+m)?\d+s"
    step = re.compile(
        rf"agentroom: \[ *(\d+)/193\] compiling llama-cpp-python(.*) "
        rf"\({time}(?:, about {time} left)?\)"
    )
    steps = [step.fullmatch(line) or line for line in lines[3:-2]]
    # A plain line each tenth of the way (not 193 lines), naming the file being compiled.
    done_at = [int(s.group(1)) for s in steps if isinstance(s, re.Match)]
    assert done_at == [1, 20, 39, 58, 78, 97, 116, 136, 155, 174, 193], steps
    named = [s.group(2) for s in steps if isinstance(s, re.Match)]
    assert named[:3] == [": ggml.cpp", ": mmq.cpp", ": unity_5_cxx.cxx"]
    assert lines[-2] == "agentroom: packing the wheel for llama-cpp-python"
    assert re.fullmatch(
        r"agentroom: compiled llama-cpp-python in \d+s; pip keeps the wheel, .*", lines[-1]
    )
    # Everything pip said is in the log, after the command that said it.
    saved = log.read_text()
    assert saved.startswith(f"$ {sys.executable} -c ")
    assert saved.endswith(recorded(BUILD))


def test_a_cached_wheel_installs_without_a_word(tmp_path):
    done, log = progress(tmp_path, CACHED)
    assert done.returncode == 0
    assert done.stdout == "" and done.stderr == ""
    assert log.read_text().endswith(recorded(CACHED))


def test_a_failed_compile_is_one_line_with_the_compilers_error_and_the_log(tmp_path):
    done, log = progress(tmp_path, COMPILE_ERROR, status=1)
    assert done.returncode == 1
    assert done.stdout.splitlines()[-2:] == [
        "agentroom: [  1/193] compiling llama-cpp-python: ggml-alloc.c (0s)",
        'agentroom: could not install llama-cpp-python: broken.h:2:2: error: #error "a header '
        f'this machine breaks"; the full log: {log}',
    ]


def test_a_coloured_error_is_shown_inert_and_kept_whole_in_the_log(tmp_path):
    done, log = progress(tmp_path, written(tmp_path, COLOURED), status=1)
    assert done.stdout.splitlines()[-1] == (
        "agentroom: could not install llama-cpp-python: ggml.c:7:10: fatal error: cstdint: "
        f"No such file or directory; the full log: {log}"
    )
    assert "\x1b" not in done.stdout and "PWNED" not in done.stdout
    assert log.read_text().endswith(COLOURED)


def test_a_build_without_a_compiler_says_so(tmp_path):
    done, log = progress(tmp_path, NO_COMPILER, status=1)
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == (
        "agentroom: could not install llama-cpp-python: CMake Error at "
        "CMakeDetermineCCompiler.cmake:49 (message): Could not find compiler set in environment "
        f"variable CC: /nonexistent/cc.; the full log: {log}"
    )


def test_no_network_gives_pips_error_not_its_summary(tmp_path):
    done, log = progress(tmp_path, written(tmp_path, OFFLINE), status=1)
    assert done.returncode == 1
    assert done.stdout == (
        "agentroom: could not install llama-cpp-python: No matching distribution found for "
        f"llama-cpp-python==0.3.36; the full log: {log}\n"
    )


def test_a_command_that_cannot_run_is_one_line(tmp_path):
    log = tmp_path / "build.log"
    missing = str(tmp_path / "no-such-pip")
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--log",
            str(log),
            "--what",
            "llama-cpp-python",
            "--",
            missing,
        ],
        capture_output=True,
        text=True,
        env=child_env(tmp_path),
        timeout=60,
    )
    assert done.returncode == 127
    assert done.stdout == (
        f"agentroom: could not install llama-cpp-python: cannot run {missing}: "
        f"No such file or directory; the full log: {log}\n"
    )


def test_on_a_terminal_the_progress_is_one_line_redrawn_in_place(tmp_path):
    """On a pty: each step redraws the line (carriage return, erase), cut to the width."""
    primary, secondary = pty.openpty()
    log = tmp_path / "build.log"
    child = subprocess.Popen(
        [*script(log), sys.executable, "-c", PLAY, str(BUILD), "0"],
        stdout=secondary,
        stderr=secondary,
        env=child_env(tmp_path, COLUMNS="72"),
    )
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    assert child.wait(timeout=60) == 0
    text = shown.decode()
    redraws = text.split("\r\x1b[K")
    steps = [r for r in redraws if re.match(r"agentroom: \[ *\d+/193\] compiling", r)]
    assert len(steps) == 193  # every step, each drawn over the last
    assert all("\n" not in r and len(r) <= 71 for r in steps), steps
    assert text.startswith("agentroom: downloading llama_cpp_python-0.3.36.tar.gz (76.6 MB)\r\n")
    # The last step is erased for the closing line, which stays.
    assert redraws[-1].startswith("agentroom: compiled llama-cpp-python in ")
    assert redraws[-1].endswith("so this was the only time\r\n")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_installs_the_local_model_through_it_and_opens_the_room_either_way(tmp_path):
    """``make -n run`` on a new venv: what it would do, in order (nothing is run)."""
    venv = tmp_path / "venv"
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "-C", str(REPO), "run", f"VENV={venv}"],
        capture_output=True,
        text=True,
        env=child_env(tmp_path),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    planned = done.stdout
    build = (
        f"{venv}/bin/python scripts/pip_progress.py --log {venv}/local-build.log "
        f"--what llama-cpp-python -- {venv}/bin/python -m pip install -v "
    )
    assert f'CMAKE_ARGS="-DGGML_NATIVE=OFF" {build}' in planned
    assert "--quiet" not in planned.split(build, 1)[1].split("\n", 1)[0]
    assert 'elif [ -n "1" ]; then' in planned  # a failed build falls back to the offline model
    assert planned.index(build) < planned.index(f"{venv}/bin/agentroom")
    assert not venv.exists()
