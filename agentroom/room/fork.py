"""Forking and deleting saved sessions.

A fork is a new room whose log is a copy of another room's log up to one
``seq``: same numbers, senders, receivers, contents, types, times and
metadata, new ids (``reply_to`` follows the copies).  Every agent's own
conversation is its history cut at the fork point, and the coordinator's
checkpoint is moved back to the fork point, so ``Engine.open(db,
session_id=fork)`` (or ``agentroom resume``) continues the fork at ``seq + 1``
with the same workflow.  Nothing in the source room is touched.

The copy is the store's (:meth:`SqliteStore.fork_room`): one transaction, so
a crash mid-fork leaves either the whole fork or nothing.  What lives here is
what a fork *means*: which metadata it keeps, its title, and how the
coordinator's checkpoint is moved back.  Deleting is one transaction too.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from agentroom.store.sqlite import SqliteStore

KEPT_METADATA = ("workflow", "workflow_path", "model")
"""What a fork keeps of its source room's metadata: enough to resume it the same way."""


async def fork_session(
    store: SqliteStore, source_id: str, upto_seq: int, *, title: str | None = None
) -> str:
    """Copy ``source_id`` (an id or unique prefix) up to ``upto_seq`` into a new room.

    Returns the new session's id; it is ``stopped``, ready to be resumed.
    ``upto_seq`` may be 0 (an empty room with the same workflow) up to the
    source's last ``seq``.
    """
    source = await store.get_room(source_id)
    sid = source.id
    last = await store.last_seq(sid)
    if not 0 <= upto_seq <= last:
        raise ValueError(
            f"session {sid} has envelopes #1 to #{last}; cannot fork it at #{upto_seq}"
        )
    metadata: dict[str, Any] = {"forked_from": {"session": sid, "seq": upto_seq}}
    metadata.update({k: source.metadata[k] for k in KEPT_METADATA if k in source.metadata})
    name = title if title is not None else f"{source.title or sid[:18]} (fork at #{upto_seq})"
    return await store.fork_room(
        sid,
        upto_seq,
        title=name,
        metadata=metadata,
        move_state=partial(_state_at_fork, upto_seq=upto_seq, metadata=source.metadata),
    )


def _state_at_fork(
    state: dict[str, Any],
    turns: int,
    last_speaker: str | None,
    agents: list[str],
    *,
    upto_seq: int,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """The source's coordinator checkpoint, moved back to the fork point.

    ``turns`` and ``last_speaker`` are the source's up to the fork point (the
    store counts them in the fork's transaction); ``agents`` are its agents.

    Counters the fork cannot recompute start afresh: the termination
    conditions get a new budget (the fork is a new run), and the shared
    memory's open round keeps only the writes made before the fork.
    """
    state = dict(state)
    state["turns"] = turns
    state["stopped"] = None
    state["last_speaker"] = last_speaker
    state["termination"] = {}
    memory = state.get("memory")
    if isinstance(memory, dict) and isinstance(memory.get("round"), dict):
        state["memory"] = memory | {
            "round": {
                key: [w for w in writes if w[2] <= upto_seq]
                for key, writes in memory["round"].items()
            }
        }
    if state.get("strategy") == "round-robin":
        order = _round_robin_order(metadata) or agents
        cursor = 0
        if last_speaker is not None and last_speaker in order:
            cursor = (order.index(last_speaker) + 1) % len(order)
        state["strategy_state"] = {**(state.get("strategy_state") or {}), "cursor": cursor}
    return state


def _round_robin_order(metadata: dict[str, Any]) -> list[str]:
    workflow = metadata.get("workflow")
    if not isinstance(workflow, dict):
        return []
    order = (workflow.get("strategy") or {}).get("order")
    if order:
        return [str(name) for name in order]
    ids = [a.get("id") for a in workflow.get("agents") or []]
    ids += [h.get("id", "human") for h in workflow.get("humans") or []]
    return [str(name) for name in ids if name]


# -- deleting -------------------------------------------------------------------------------


async def delete_session(store: SqliteStore, uid: str, *, force: bool = False) -> None:
    """Delete a saved room (id or unique prefix) and everything in it, in one transaction.

    Its envelopes, participants, agent sessions with their histories and
    checkpoints, the coordinator's checkpoint, its owner's record and the
    room itself go.  A room that is running (its owner alive) is refused
    unless ``force``.  Forks of it are copies and stay.
    """
    room = await store.get_room(uid)
    await store.delete_room(room.id, force=force)
