"""The bus layer: one ordered stream per room, sender stamping, bounded inboxes.

Everything said in a room passes through :class:`MessageBus`; it alone gives
an envelope its ``seq`` and its sender (from the :class:`AgentHandle` the
speaker was given), so the transcript has one order and no one speaks as
another.
"""

from agentroom.bus.message_bus import PARTICIPANT_ID, AgentHandle, MessageBus

__all__ = ["PARTICIPANT_ID", "AgentHandle", "MessageBus"]
