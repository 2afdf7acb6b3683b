"""The room layer: a workflow made into a running room, and the sessions it leaves.

Here the layers below meet: the workflow schema and loader, the builder that
turns a workflow into agents, strategy and coordinator, the live session an
interface drives, the seed's :class:`Engine` façade, and the sessions service
through which interfaces read, export, fork and delete saved rooms.
"""
