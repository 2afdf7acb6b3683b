"""Participants the engine can give a turn to."""

from agentroom.agents.base import Agent, AgentSettings, Reply, Turn
from agentroom.agents.human import HumanAgent
from agentroom.agents.scripted import ScriptedAgent

__all__ = ["Agent", "AgentSettings", "HumanAgent", "Reply", "ScriptedAgent", "Turn"]
