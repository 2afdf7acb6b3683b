"""The command-line interface: typer commands and the headless room.

The entry point is :func:`agentroom.cli.main.main`; this package imports
nothing on its own so that ``agentroom.cli.headless`` stays light.
"""
