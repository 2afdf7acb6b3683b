"""Where the UI gets its running room (kept for imports; it lives in ``agentroom.runner``)."""

from agentroom.runner import LiveRoom, RoomOptions

__all__ = ["LiveRoom", "RoomOptions"]
