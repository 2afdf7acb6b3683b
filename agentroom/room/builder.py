"""From a workflow to a room: agents, tools, strategy, termination, memory.

This is where the layers meet: it reads a :class:`~agentroom.room.workflows.Workflow`
and registers its participants on an :class:`~agentroom.room.engine.Engine`
and builds a :class:`~agentroom.coordination.MultiAgentCoordinator`, for a
new run or to resume a saved one.  The workflow itself is saved in the
session's metadata, so ``resume`` rebuilds the same room without needing the
file, except for its tools: they are code, imported only as a workflow file
names them (see :func:`workflow_to_resume`).  Running the room with a screen
attached is :mod:`agentroom.room.live`'s job.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentroom.agents import AgentSettings, HumanAgent, LLMAgent
from agentroom.agents.human import AnyHumanAnswers
from agentroom.agents.tools import Tool, load_callable
from agentroom.coordination.coordinator import MultiAgentCoordinator, RunResult
from agentroom.coordination.handoff import Handoff
from agentroom.coordination.memory import Blackboard
from agentroom.coordination.plan_driven import PlanDriven
from agentroom.coordination.role_based import RoleBased
from agentroom.coordination.round_robin import RoundRobin
from agentroom.coordination.strategy import Participant, Strategy
from agentroom.coordination.termination import (
    AgentAnswered,
    AllOf,
    AnyOf,
    FailedTurns,
    HandoffToHuman,
    MaxMessages,
    MaxTurns,
    Termination,
    TextMention,
    Timeout,
    TokenBudget,
    ToolCalled,
)
from agentroom.coordination.tools import delegate_tool, handoff_tool, memory_tools, spawn_tool
from agentroom.core.errors import WorkflowError
from agentroom.models.spec import make_client
from agentroom.models.types import ModelClient
from agentroom.room.workflows import (
    STRATEGIES,
    TerminationSpec,
    Workflow,
    load_workflow,
    workflow_folder,
)

if TYPE_CHECKING:
    from agentroom.room.engine import Engine


def build_termination(
    spec: TerminationSpec, humans: list[str], *, max_messages: int | None = None
) -> Termination:
    parts: list[Termination] = []
    limit = max_messages or spec.max_messages
    if limit:
        parts.append(MaxMessages(limit))
    if spec.max_turns:
        parts.append(MaxTurns(spec.max_turns))
    if spec.text:
        parts.append(TextMention(spec.text, spec.text_from))
    if spec.timeout:
        parts.append(Timeout(spec.timeout))
    if spec.token_budget:
        parts.append(TokenBudget(spec.token_budget))
    if spec.agent_answered:
        parts.append(AgentAnswered(spec.agent_answered))
    if spec.tool_called:
        parts.append(ToolCalled(spec.tool_called))
    if spec.handoff_to_human and humans:
        parts.append(HandoffToHuman(humans))
    if not parts:
        raise WorkflowError(
            "termination: no condition can fire (handoff_to_human needs a human in the room); "
            "add max_messages, max_turns, text, timeout or tool_called"
        )
    if spec.combine == "all" and len(parts) > 1:
        return AllOf(parts)
    return parts[0] if len(parts) == 1 else AnyOf(parts)


def strategy_factory(
    workflow: Workflow, default_model: ModelClient, folder: Path | None = None
) -> Callable[[str], Strategy]:
    """Builds any strategy for this workflow's room (for the start and for switching);
    a rule or candidate function is imported from ``folder`` too (the workflow's own)."""
    spec = workflow.strategy
    agents = [a.id for a in workflow.agents]

    def function(path: str | None) -> Callable[..., Any] | None:
        unsafe = workflow.allow_unsafe_tools
        return load_callable(path, allow_unsafe=unsafe, folder=folder) if path else None

    def build(name: str) -> Strategy:
        if name == "round-robin":
            return RoundRobin(spec.order or workflow.participant_ids)
        if name == "role-based":
            rule = function(spec.rule) if spec.selector == "rule" else None
            selector = make_client(spec.selector_model) if spec.selector_model else default_model
            return RoleBased(
                candidates=spec.candidates,
                selector=None if rule else selector,
                rule=rule,
                default=spec.default,
                allow_repeat=spec.allow_repeat,
                retries=spec.retries,
                candidate_func=function(spec.candidate_func),
            )
        if name == "plan-driven":
            return PlanDriven(
                spec.planner or agents[0], workers=spec.workers, replan_after=spec.replan_after
            )
        if name == "handoff":
            return Handoff(spec.start or agents[0], partner=spec.partner)
        raise WorkflowError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}")

    return build


def build_room(
    engine: Engine,
    workflow: Workflow,
    default_model: ModelClient,
    *,
    strategy: str | None = None,
    max_messages: int | None = None,
    source: str = "",
) -> MultiAgentCoordinator:
    """Register the workflow's participants on ``engine`` and return its coordinator.

    ``source`` is the workflow's file: its folder is on the import path while
    the tools are imported, as ``workflows validate`` has it (:func:`workflow_folder`).
    """
    folder = workflow_folder(source)
    unsafe = workflow.allow_unsafe_tools
    board = None
    if workflow.memory.enabled:
        board = Blackboard(
            workflow.memory.policy,
            voters=workflow.memory.voters,
            arbiter=workflow.memory.arbiter,
            tie_break=workflow.memory.tie_break,
        )
    llm_agents: list[LLMAgent] = []
    for spec in workflow.agents:
        model = make_client(spec.model) if spec.model else default_model
        settings = AgentSettings(
            model=spec.model,
            temperature=spec.temperature,
            max_tokens=spec.max_tokens,
            system_prompt=spec.system_prompt or "",
        )
        agent = LLMAgent(
            spec.id,
            model,
            role=spec.role,
            description=spec.description,
            settings=settings,
            tools=[Tool.load(p, allow_unsafe=unsafe, folder=folder) for p in spec.tools],
            stop=spec.stop,
            humans=[h.id for h in workflow.humans],
        )
        llm_agents.append(engine.register_agent(agent))  # type: ignore[arg-type]
    humans = [
        HumanAgent(h.id, description=h.description, settings=AgentSettings(turn_timeout=h.timeout))
        for h in workflow.humans
    ]
    for human in humans:
        engine.register_agent(human)
    if workflow.room.any_human and len(humans) > 1:
        engine.bus.attach(AnyHumanAnswers(humans))
    names = [a.id for a in workflow.agents]
    for agent in llm_agents:
        others = [n for n in names if n != agent.id]
        delegation, subagents = workflow.delegation, workflow.subagents
        if delegation.enabled and others and agent.id in (delegation.agents or names):
            agent.toolbox.add(delegate_tool(engine, agent.id, others))
        if subagents.enabled and agent.id in (subagents.agents or names):
            agent.toolbox.add(
                spawn_tool(
                    engine,
                    agent.id,
                    max_depth=workflow.subagents.max_depth,
                    budget=workflow.subagents.budget,
                )
            )
        if board is not None:
            for tool in memory_tools(engine, agent.id, board):
                agent.toolbox.add(tool)
        if (strategy or workflow.strategy.name) == "handoff":
            # Not to the partner (the customer): it answers between turns, never has the floor.
            partner = workflow.strategy.partner
            targets = [n for n in others + [h.id for h in workflow.humans] if n != partner]
            agent.toolbox.add(handoff_tool(targets))
    participants = {a.id: Participant(a.id, a.role, a.description) for a in workflow.agents} | {
        h.id: Participant(h.id, "human", h.description, human=True) for h in workflow.humans
    }
    build = strategy_factory(workflow, default_model, folder)
    return MultiAgentCoordinator(
        engine,
        build(strategy or workflow.strategy.name),
        build_termination(
            workflow.termination, [h.id for h in workflow.humans], max_messages=max_messages
        ),
        participants=participants,
        memory=board,
        strategies=build,
        failures=FailedTurns(
            workflow.termination.max_agent_failures, workflow.termination.max_room_failures
        ),
    )


def workflow_metadata(workflow: Workflow, source: str, model: str | None) -> dict[str, Any]:
    """What a session keeps of its workflow, so that it can be resumed without the file
    (a workflow with tools needs the file ``source`` again: :func:`workflow_to_resume`).

    ``model`` is the spec the room ran on (resume uses it unless told otherwise).
    """
    meta: dict[str, Any] = {"workflow": workflow.model_dump(mode="json"), "workflow_path": source}
    if model:
        meta["model"] = model
    return meta


def workflow_to_resume(
    saved: Workflow,
    session_id: str,
    saved_path: str = "",
    given: Workflow | None = None,
    given_source: str = "",
) -> Workflow:
    """The workflow a saved session resumes with: the saved one, its tools vouched for by a file.

    Tools are code that runs with the user's rights, so they are imported only
    as a workflow file on this machine names them, never because a database
    says so (a database travels, and anyone who can write it could name
    ``os:system``).  A session whose workflow imports nothing resumes from the
    database alone.  Otherwise the file (``given``, or the one the session was
    started from) must name exactly the saved tools, and its
    ``allow_unsafe_tools`` is the one that counts.
    """
    again = f"pass the workflow that started it: agentroom resume {session_id} --workflow FILE"
    source = given_source or "the workflow given"
    if given is None:
        if not saved.imports:
            return saved
        if not saved_path:
            raise WorkflowError(
                f"session {session_id} runs tools, and which workflow file named them was not "
                f"saved; {again}"
            )
        source = saved_path
        try:
            given = load_workflow(saved_path)
        except WorkflowError as exc:
            problem = str(exc).splitlines()[0] if str(exc) else "it cannot be read"
            raise WorkflowError(
                f"session {session_id} runs tools named by its workflow file, which cannot be "
                f"used ({problem}); {again}"
            ) from None
    if given.imports != saved.imports:
        named = ", ".join(f"{who}: {path}" for who, path in saved.imports) or "none"
        raise WorkflowError(
            f"{source} names other tools than session {session_id} was started with "
            f"({named}); {again}"
        )
    return saved.model_copy(update={"allow_unsafe_tools": given.allow_unsafe_tools})


async def run_workflow(
    engine: Engine,
    workflow: Workflow,
    task: str | None = None,
    *,
    default_model: ModelClient | None = None,
    strategy: str | None = None,
    max_messages: int | None = None,
    source: str = "",
) -> RunResult:
    """Build the room on ``engine`` and run it on ``task`` (or the workflow's own).

    ``source`` is the workflow's file, if it came from one (resuming a room
    with tools needs it).
    """
    if default_model is None:
        from agentroom.models.spec import resolve

        default_model = make_client((await resolve(workflow=workflow.model)).spec)
    # Keep the workflow with the session, so `agentroom resume` can rebuild this room.
    engine.store.set_room_state(
        engine.session_id, "running", workflow_metadata(workflow, absolute_source(source), None)
    )
    coordinator = build_room(
        engine,
        workflow,
        default_model,
        strategy=strategy,
        max_messages=max_messages,
        source=source,
    )
    return await coordinator.run(task or workflow.task or "Introduce yourselves.")


def absolute_source(source: str) -> str:
    """The workflow file as saved with a session (absolute, so resume finds it anywhere)."""
    return str(Path(source).resolve()) if source else ""
