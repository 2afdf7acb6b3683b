"""The core layer: what every other layer may use and which uses nothing of theirs.

The envelope and its protocol, ids, errors, text made valid at the edge,
event kinds, and where agentroom keeps its files.  No module here does I/O on
a room's behalf or imports anything above it.
"""
