"""Every session samples with a seed of its own, recorded with it, through the real command.

Without one, a local model (whose own seed never changes) said the same words
in every run of the same room.  The model here is a real OpenAI-compatible
server on loopback (:mod:`tests.openai_server`) that keeps every request, so
the test sees the seed each turn was sampled with.
"""

from __future__ import annotations

from typer.testing import CliRunner

from agentroom.cli.main import app
from tests.cli.test_run_cli import agentroom, session_of, show
from tests.openai_server import OpenAIServer, sse_reply


def seeds(server: OpenAIServer) -> list[int]:
    return [body["seed"] for body in server.requests]


def test_a_run_samples_each_turn_with_its_sessions_seed_and_a_resume_carries_it_on(cli_env):
    with OpenAIServer(sse_reply(["A point."]), repeat=True) as server:
        model = ["--model", server.spec(), "--headless"]
        first = agentroom(cli_env, "run", "debate", *model, "--max-messages", "3", "--seed", "5")
        assert first.returncode == 0, first.stderr
        sid = session_of(first.stdout)
        ran = seeds(server)
        assert len(ran) == 2 and 5 < ran[0] < ran[1]  # moved on by what was said since
        again = agentroom(cli_env, "resume", sid, *model, "--max-messages", "1")
        assert again.returncode == 0, again.stderr
        resumed = seeds(server)[len(ran) :]
        assert resumed and resumed[0] > ran[-1]  # carried on, not started over
    assert show(cli_env, sid)["metadata"]["seed"] == 5
    shown = CliRunner().invoke(
        app, ["sessions", "show", sid, "--db", cli_env["AGENTROOM_DB"]], env=cli_env
    )
    assert shown.exit_code == 0 and "sampling seed: 5" in shown.output


def test_each_new_session_gets_a_seed_of_its_own(cli_env):
    sessions = []
    for _ in range(2):
        done = agentroom(cli_env, "run", "debate", "--headless", "--max-messages", "2")
        assert done.returncode == 0, done.stderr
        sessions.append(show(cli_env, session_of(done.stdout))["metadata"]["seed"])
    first, second = sessions
    assert isinstance(first, int) and isinstance(second, int) and first != second


def test_a_seed_out_of_range_is_refused_before_anything_runs(cli_env):
    done = agentroom(cli_env, "run", "debate", "--headless", "--seed", "-1")
    assert done.returncode == 2 and "Invalid value for '--seed'" in done.stderr
    assert "Traceback" not in done.stderr
