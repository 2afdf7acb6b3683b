"""The fault tests run the real command the way tests/cli/test_run_cli.py does, with its fixture."""

from tests.cli.test_run_cli import env  # noqa: F401 (a fixture: the subprocess's environment)
