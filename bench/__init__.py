"""Benchmarks for agentroom: ``python -m bench [bus] [store] [size]``.

Each module measures one of the project's stated goals and prints what is
reached (median of several repeats, plus the best).  Nothing here asserts on
time: the numbers are for reading, not for failing a build.
"""
