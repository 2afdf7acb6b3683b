"""The fault tests run the real command the way tests/test_run_cli.py does, with its fixture."""

from tests.test_run_cli import env  # noqa: F401 (a fixture: the subprocess's environment)
