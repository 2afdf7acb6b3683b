"""Participants the engine can give a turn to."""

from agentroom.agents.base import Address, Agent, AgentSettings, Reply, Turn, TurnControl
from agentroom.agents.human import HumanAgent
from agentroom.agents.llm import LLMAgent
from agentroom.agents.scripted import ScriptedAgent
from agentroom.agents.tools import Tool, Toolbox

__all__ = [
    "Address",
    "Agent",
    "AgentSettings",
    "HumanAgent",
    "LLMAgent",
    "Reply",
    "ScriptedAgent",
    "Tool",
    "Toolbox",
    "Turn",
    "TurnControl",
]
