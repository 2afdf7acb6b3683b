"""A commented starting workflow for each strategy (``agentroom workflows new NAME``).

The file it makes is meant to be read: every key it sets says what it does
and in which unit, the optional sections are there commented out, and it is
valid and runs as written (on any model, down to the offline demo one), so a
person edits something that works instead of starting from a blank page.
"""

from __future__ import annotations

import json
import textwrap

from agentroom.room.workflow_schema import STRATEGIES

HEAD = """\
# {name}: an agentroom workflow ({strategy}).
#   Check it:  agentroom workflows validate {file}
#   Run it:    agentroom run {file}
# Every key, its type, default and unit: docs/workflows.md in agentroom's source.
# Put it in ~/.config/agentroom/workflows/ to run it by name from anywhere.

name: {title}
description: {description}
# What the room works on (`agentroom run --task "..."` replaces it for one run);
# {{task}} in a system_prompt stands for it.
task: {task}

# The model of every agent that names none (each agent may set its own `model:`):
# openai:MODEL, ollama:MODEL, openai-compat:MODEL@BASE_URL, local, local:PATH.gguf,
# replay:FILE or offline. Left out, agentroom chooses (see `agentroom models`).
# model: ollama:llama3.2
"""

AGENT_NOTES = """\
agents:
  # id: how the room names an agent (@{first}); 1-64 letters, digits, _ - or .
  # max_tokens: the most tokens one reply may use; stop: a reply ends at any of these.
  # tools: Python functions the agent may call, as module:function; a module beside
  # this file is found (tools: [my_tools:search] for my_tools.py here).
"""

AGENTS: dict[str, list[tuple[str, str, str, str]]] = {
    "round-robin": [
        (
            "writer",
            "writer",
            "Drafts the answer and improves it after each critique.",
            "You are the writer. {task} Write or improve a short draft in two or three sentences.",
        ),
        (
            "critic",
            "critic",
            "Names the one thing most worth fixing, or approves the draft.",
            "You are the critic. Name the one thing in the latest draft most worth fixing, "
            "in one sentence. When the draft is good, say so and end with DONE.",
        ),
    ],
    "role-based": [
        (
            "researcher",
            "researcher",
            "Finds facts and figures the others need.",
            "You research. {task} Give one relevant fact or figure in one or two sentences.",
        ),
        (
            "writer",
            "writer",
            "Turns what is known into a short answer.",
            "You write. {task} Write or improve a short answer from what has been said, in "
            "two or three sentences.",
        ),
        (
            "lead",
            "lead",
            "Decides when the answer is good enough.",
            "You lead. Say in one sentence what the answer still lacks; when nothing does, "
            "end with APPROVED.",
        ),
    ],
    "plan-driven": [
        (
            "planner",
            "planner",
            "Writes the plan and re-plans when a step is stuck.",
            "You plan. When asked for a plan, write 2 to 4 numbered steps, one per line, each "
            "naming who does it (researcher or writer). Nothing else.",
        ),
        (
            "researcher",
            "researcher",
            "Finds what a step needs.",
            "You research. Do the step you are given and report the result in two sentences.",
        ),
        (
            "writer",
            "writer",
            "Writes up what the steps found.",
            "You write. Do the step you are given in two or three sentences.",
        ),
    ],
    "handoff": [
        (
            "triage",
            "front desk",
            "Greets you and hands you to the right specialist.",
            "You are the front desk. Greet the person in one sentence and hand off to the "
            "specialist by writing HANDOFF: specialist.",
        ),
        (
            "specialist",
            "specialist",
            "Solves the problem, asking one question at a time.",
            "You solve the problem. {task} Ask one question or give one step at a time. When "
            "it is solved, end your reply with RESOLVED.",
        ),
    ],
}

ROOMS = {
    "round-robin": (
        "A writer drafts, a critic improves it, and you may join in between.",
        "Write a three-sentence welcome for new members of a hiking club.",
    ),
    "role-based": (
        "A selector model picks whoever fits the conversation best to speak next.",
        "Explain in a short paragraph why the sky is blue.",
    ),
    "plan-driven": (
        "A planner splits the task into steps; each step goes to the agent who fits it.",
        "Write a one-page guide to starting a vegetable garden.",
    ),
    "handoff": (
        "The active agent keeps the floor until it hands off; you answer between its turns.",
        "My laptop does not connect to the wifi any more.",
    ),
}

HUMANS = """
# You, in the room (delete the section to watch the agents alone). When your turn
# comes, you have `timeout` seconds to answer, then it passes (null: wait for ever).
humans:
  - id: human
    timeout: 120
"""

STRATEGY_BLOCKS = {
    "round-robin": """
# Who speaks next: round-robin goes round in `order` (default: agents, then humans).
# The other strategies: role-based, plan-driven, handoff (`workflows new --strategy`).
strategy:
  name: round-robin
  order: [writer, critic, human]
""",
    "role-based": """
# Who speaks next: role-based asks a selector model (or your `rule:` function,
# module:function) to pick among the `candidates`; `default` speaks when it cannot.
strategy:
  name: role-based
  candidates: [researcher, writer, lead, human]
  selector: model
  default: writer
  allow_repeat: false   # nobody speaks twice in a row
  retries: 3            # times the selector is asked again after a bad answer
""",
    "plan-driven": """
# Who speaks next: the planner writes numbered steps; each goes to the worker whose
# role fits, in order; after `replan_after` stalled steps the planner plans again.
strategy:
  name: plan-driven
  planner: planner
  workers: [researcher, writer]
  replan_after: 2
""",
    "handoff": """
# Who speaks next: `start` has the floor until it hands off (HANDOFF: name, or the
# handoff tool); `partner` answers between the active agent's turns.
strategy:
  name: handoff
  start: triage
  partner: human
""",
}

STOPS = {
    "round-robin": "  text: DONE\n  text_from: [critic]\n  max_messages: 12\n",
    "role-based": "  text: APPROVED\n  text_from: [lead]\n  max_messages: 12\n",
    "plan-driven": "  max_messages: 16\n",
    "handoff": "  text: RESOLVED\n  max_messages: 12\n",
}

TAIL = """
# When to stop: at the first condition that fires (`combine: all` waits for every one).
# Also: max_turns, timeout (seconds), token_budget (tokens), agent_answered, tool_called,
# handoff_to_human. A plan-driven room also ends when its plan is done.
termination:
{stops}

# Optional, off unless set:
# memory: {{enabled: true, policy: vote, voters: [...]}}   # a shared blackboard
# delegation: true                # agents may hand sub-tasks to each other
# subagents: {{enabled: true, max_depth: 2, budget: 8}}     # agents may spawn helpers
# allow_unsafe_tools: false       # let tools come from os, subprocess, socket, ...
# room: {{any_human: true, while_speaking: interrupt}}  # several people: any may answer
#                                 # a turn; a line typed while an agent speaks cuts it short
"""


def starter_workflow(name: str, strategy: str, file: str) -> str:
    """The commented starting workflow called ``name`` for ``strategy``, saved as ``file``."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}")
    description, task = ROOMS[strategy]
    agents = AGENTS[strategy]
    text = HEAD.format(
        name=name,
        strategy=strategy,
        file=file,
        title=json.dumps(name),  # quoted: a name such as `yes` or `1.0` stays text
        description=description,
        task=json.dumps(task),
    )
    text += "\n" + AGENT_NOTES.format(first=agents[0][0])
    for agent_id, role, about, prompt in agents:
        folded = textwrap.fill(prompt, 88, initial_indent=" " * 6, subsequent_indent=" " * 6)
        text += (
            f"  - id: {agent_id}\n"
            f"    role: {role}\n"
            f"    description: {about}\n"
            f"    system_prompt: >\n{folded}\n"
            f"    max_tokens: 80\n"
            f'    stop: ["\\n\\n"]\n'
        )
    text += HUMANS + STRATEGY_BLOCKS[strategy]
    return text + TAIL.format(stops=STOPS[strategy].rstrip("\n"))
