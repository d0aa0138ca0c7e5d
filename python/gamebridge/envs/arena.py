"""A PettingZoo ``ParallelEnv`` over Agent Arena ticks.

The bridge serves an Agent Arena game (``gamebridge serve --game
arena=agent-arena``): the Godot scene posts every tick, with all its agents'
perceptions, to ``POST /tick`` and waits for their actions. An agent that
registered ``decide`` over the WebSocket API (:class:`~gamebridge.agent.Agent`)
is *pushed* each tick and answers it. Reinforcement-learning code is written
the other way round: it *pulls*, ``obs = env.reset()`` then
``obs, ... = env.step(actions)``. :class:`ArenaParallelEnv` turns the one into
the other:

    env = ArenaParallelEnv("http://127.0.0.1:5000", possible_agents=["a", "b"])
    observations, infos = env.reset()              # waits for the next tick
    while env.agents:
        actions = {agent: policy(observations[agent]) for agent in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)
    env.close()

How: an :class:`~gamebridge.agent.Agent` runs in a background thread with
its own asyncio loop. Its ``decide`` handler (a coroutine) puts the tick into
a thread-safe queue with a :class:`concurrent.futures.Future` for the answer,
and awaits that future (``asyncio.wrap_future``); ``reset``/``step`` take the
tick from the queue and answer it by setting the future's result. Nothing
polls: both sides block on the queue or the future.

Time is the game's, not the learner's. The game waits for each tick's answer
(as Godot does), so a policy may think for as long as ``decide_timeout``
between one ``step`` and the next; past it the tick is answered without the
environment (every agent ``idle``, the bridge's fallback) and the game moves
on, and the environment warns (:class:`ArenaWarning`) when it meets that tick.
When no tick comes at all (the game is paused or gone), ``reset``/``step``
raise :class:`TimeoutError` after ``tick_timeout`` seconds rather than hang.

Needs ``numpy``, ``gymnasium`` and ``pettingzoo`` besides the package's own
``websockets``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import queue
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gymnasium import spaces
from pettingzoo import ParallelEnv

from ..agent import Agent
from ._background import BackgroundAgent
from .arena_perception import (
    MACROS,
    Decision,
    Perception,
    checked_decision,
    encode_perception,
    idle,
    perception_reward,
    perception_space,
)

# What this module offers; the perception helpers live in arena_perception.
__all__ = [
    "DEFAULT_TOOLS",
    "ArenaParallelEnv",
    "ArenaWarning",
    "UnknownAgentError",
    "encode_perception",
    "perception_space",
]

DEFAULT_URL = "http://127.0.0.1:5000"

DEFAULT_TOOLS: tuple[str, ...] = ("idle", "move_to_resource", "flee_hazard")
"""The default action vocabulary: action ``i`` of ``Discrete(len(tools))`` is ``tools[i]``."""


class UnknownAgentError(LookupError):
    """A tick carried an agent the environment has no name for: an id not in
    ``possible_agents``, or one agent more than ``max_agents`` slots hold.

    PettingZoo fixes ``possible_agents`` (and every agent's spaces) before
    play, so such an agent cannot be added on the fly; the fix is in the
    constructor (list it in ``possible_agents``, or use ``max_agents``). The
    tick is answered ``idle`` for every agent before the error is raised, so
    the game is not left waiting."""


class ArenaWarning(UserWarning):
    """The game got something else than ``step`` said: a tick answered by the
    bridge's fallback because ``step`` came too late, or an agent that is not
    observed until the next ``reset`` (it left and came back)."""


def agent_url(url: str) -> str:
    """The bridge's WebSocket agent API for its HTTP address (``http://host:port``
    becomes ``ws://host:port/agent``); a ``ws://`` URL is taken as it is."""
    base = url.rstrip("/")
    for http, ws in (("http://", "ws://"), ("https://", "wss://")):
        if base.startswith(http):
            base = ws + base[len(http) :]
    return base if base.endswith("/agent") else base + "/agent"


# -- the handoff between the two threads --------------------------------------


@dataclass
class _Tick:
    """A tick the game is waiting on, and the future that answers it."""

    number: int
    entries: list[tuple[str, Mapping[str, Any]]]
    answer: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)
    # Ids the environment does not observe this tick (answered idle).
    benched: set[str] = field(default_factory=set)


@dataclass
class _Stopped:
    """The background agent stopped; ``error`` says why (``None``: closed)."""

    error: BaseException | None


def _entries(agents: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """``(agent_id, entry)`` for each agent the bridge sent (its ids are text)."""
    if not isinstance(agents, list):
        return []
    return [
        (str(entry["agent_id"]), entry)
        for entry in agents
        if isinstance(entry, Mapping) and entry.get("agent_id") is not None
    ]


def _perception(entry: Mapping[str, Any]) -> Perception:
    observation = entry.get("observation")
    return dict(observation) if isinstance(observation, Mapping) else {}


class ArenaParallelEnv(ParallelEnv[str, Any, Any]):
    """A PettingZoo ``ParallelEnv``: each ``step`` answers one Agent Arena tick.

    ``reset()`` waits for the next tick that has agents and returns its
    observations; ``step(actions)`` answers that tick with the actions (an
    agent without one gets ``idle``) and waits for the next tick. The world
    is the game's: ``reset`` does not restart it, it starts a new *episode*
    of the environment on whatever tick comes next (the tick being decided,
    if any, is answered ``idle``), and ``seed`` seeds only the action spaces.

    Arguments:

    - ``url``: the bridge's HTTP address (or its ``ws://.../agent`` URL);
      ``game`` the Agent Arena game's name there; ``token`` its token.
    - ``tools``: the default action space is ``Discrete(len(tools))``, action
      ``i`` being ``tools[i]``, a name of :data:`MACROS` (``idle``,
      ``stop_movement``, ``move_to_resource``, ``collect_resource``,
      ``flee_hazard``) or any tool that takes no parameters. Why not the raw
      tools: of the arena's nineteen, each has its own parameters (positions,
      item ids, recipe names), so a space of every tool and every parameter
      is mostly invalid actions; a few actions whose targets come from the
      agent's own perception is what standard algorithms (DQN, PPO) learn
      with. For anything else pass ``act`` (and ``action_space``).
    - ``act(agent, action, perception) -> {tool, params, reasoning}``: maps
      one agent's action to its decision, instead of ``tools``;
      ``action_space`` is then its space (default: the ``Discrete`` above).
      Numpy values in the decision are sent as JSON numbers.
    - ``observe(perception) -> observation`` with its ``observation_space``
      (both, or neither): the default is :func:`encode_perception` in
      :func:`perception_space` with the ``nearest`` resources and hazards.
    - ``reward(perception) -> float``: default :func:`perception_reward`
      (the perception's ``reward`` field, else 0).
    - ``possible_agents`` / ``max_agents``: who may appear (see below).
    - ``decide_timeout``: how long a tick may wait for ``step`` before it is
      answered without the environment (default 20 s). The arena's own
      deadline (``agent-arena?decide_timeout_ms``, 25 s by default) bounds it
      too, so keep this under that.
    - ``tick_timeout``: how long ``reset``/``step`` wait for a tick before
      :class:`TimeoutError` (default 30 s). After one, ``step`` may be called
      again to keep waiting (the actions are then ignored: their tick was
      answered), or ``reset``.
    - ``connect_timeout``: how long the constructor waits for the bridge
      to take the registration before :class:`ConnectionError`.

    Agents: ``env.agents`` are the agents of the current tick, in its order.
    PettingZoo wants ``possible_agents`` fixed and an agent that is done to
    stay done for the episode, while a game's agents come and go. So:

    - an agent of the previous tick that is missing from the new one is
      returned once more, with its last observation, ``terminations[agent]
      = True`` and ``infos[agent]["left"] = True``, and is gone from
      ``env.agents``; a tick without agents ends the episode (everyone
      leaves, ``env.agents == []``, then ``reset``);
    - an agent new in a tick is in that step's observations and in
      ``env.agents``;
    - names: with ``possible_agents=[ids]``, agents are named by their game
      ids and must be among them; without it (and without ``max_agents``)
      ``possible_agents`` is learned from the first tick ``reset`` meets. An
      id outside them raises :class:`UnknownAgentError`, a configuration
      error rather than something to skip silently: the spaces and the
      learner's buffers are sized by ``possible_agents``. An agent that left
      and comes back in the same episode would be "revived", which PettingZoo
      forbids: it is answered ``idle`` by the environment (with an
      :class:`ArenaWarning`) and observed again from the next ``reset``;
    - with ``max_agents=N``, ``possible_agents`` is ``agent_0 ...
      agent_{N-1}``, known before any tick: each agent that appears takes the
      next unused slot of the episode (slots start again at each reset;
      ``infos[name]["agent_id"]`` is its game id), so one that comes back
      gets a fresh slot. More than N appearances in one episode raise
      :class:`UnknownAgentError`. This suits games whose ids are not known
      in advance (spawned units).

    Infos carry ``agent_id``, ``tick``, the raw ``perception`` and, when the
    scene reported some, ``experiences``. Use as a context manager, or call
    :meth:`close`, which answers the tick in hand ``idle`` and stops the
    background connection.
    """

    metadata = {"name": "gamebridge_arena_v0", "render_modes": [], "is_parallelizable": True}
    render_mode = None

    def __init__(
        self,
        url: str = DEFAULT_URL,
        game: str = "arena",
        *,
        token: str | None = None,
        tools: Sequence[str] = DEFAULT_TOOLS,
        possible_agents: Sequence[str] | None = None,
        max_agents: int | None = None,
        nearest: int = 3,
        observe: Callable[[Perception], Any] | None = None,
        observation_space: spaces.Space | None = None,
        act: Callable[[str, Any, Perception], Decision] | None = None,
        action_space: spaces.Space | None = None,
        reward: Callable[[Perception], float] | None = None,
        decide_timeout: float = 20.0,
        tick_timeout: float = 30.0,
        connect_timeout: float = 30.0,
    ) -> None:
        tools = tuple(tools)
        if not tools or len(set(tools)) != len(tools):
            raise ValueError(f"tools must name at least one action, each once: {tools!r}")
        if possible_agents is not None and max_agents is not None:
            raise ValueError("pass possible_agents (agents named by their ids) or max_agents (slots), not both")
        if max_agents is not None and max_agents < 1:
            raise ValueError(f"max_agents must be at least 1, not {max_agents}")
        if (observe is None) != (observation_space is None):
            raise ValueError("observe and observation_space go together: pass both, or neither")
        if nearest < 0:
            raise ValueError(f"nearest must be at least 0, not {nearest}")
        for name, seconds in (
            ("decide_timeout", decide_timeout),
            ("tick_timeout", tick_timeout),
            ("connect_timeout", connect_timeout),
        ):
            if not seconds > 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {seconds!r}")

        self._url, self._game = url, game
        self._tools = tools
        self._nearest = nearest
        self._observe = observe or (lambda perception: encode_perception(perception, nearest))
        self._observation_space = observation_space or perception_space(nearest)
        self._act = act
        self._action_template = action_space or spaces.Discrete(len(tools))
        self._action_spaces: dict[str, spaces.Space] = {}
        self._reward = reward or perception_reward
        self._decide_timeout = float(decide_timeout)
        self._tick_timeout = float(tick_timeout)
        self._max_agents = max_agents
        self._possible: list[str] | None
        if max_agents is not None:
            self._possible = [f"agent_{slot}" for slot in range(max_agents)]
        elif possible_agents is not None:
            self._possible = list(dict.fromkeys(str(agent) for agent in possible_agents))
        else:
            self._possible = None

        # The episode, as the environment's thread sees it.
        self.agents: list[str] = []
        self._ids: dict[str, str] = {}  # name -> the game's agent id
        self._observations: dict[str, Any] = {}
        self._perceptions: dict[str, Perception] = {}
        self._finished: set[str] = set()
        self._slots: dict[str, str] = {}  # agent id -> slot name, live agents only
        self._next_slot = 0
        self._warned: set[str] = set()
        self._current: _Tick | None = None  # the tick the last observations came from, unanswered
        self._waiting = False  # a tick was answered and its successor not yet met

        # The background agent and what crosses between the threads.
        self._ticks: queue.Queue[_Tick | _Stopped] = queue.Queue()
        self._closed = False
        self._agent = Agent(agent_url(url), token=token)
        # The bridge's deadline a little past ours, so that a late step is
        # reported by the handler (the game's fallback says why) first.
        self._agent.decide(game, timeout_ms=int((self._decide_timeout + 1.0) * 1000))(self._decide)
        try:
            self._background = BackgroundAgent(
                self._agent,
                name=f"gamebridge-arena-env:{game}",
                on_stop=lambda failure: self._ticks.put(_Stopped(failure)),
            )
            self._background.start(connect_timeout)
        except ConnectionError as error:
            self._closed = True
            raise ConnectionError(f"could not register decide for {game!r}: {error}") from error

    # -- PettingZoo's API ----------------------------------------------------

    @property
    def possible_agents(self) -> list[str]:  # type: ignore[override]
        """Every agent name that can appear: given, learned from the first tick, or the slots."""
        if self._possible is None:
            raise AttributeError(
                "possible_agents is learned from the first tick: call reset() first, "
                "or pass possible_agents=[...] or max_agents=N"
            )
        return list(self._possible)

    def observation_space(self, agent: str) -> spaces.Space:
        """The same space object for every agent."""
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Space:
        """One space object per agent (each seeded on its own), the same one on every call."""
        space = self._action_spaces.get(agent)
        if space is None:
            space = self._action_spaces[agent] = copy.deepcopy(self._action_template)
        return space

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Answers the tick in hand (``idle``), starts a new episode and waits
        for the next tick with agents; returns its observations and infos.
        ``options`` are not used."""
        self._check_open()
        if self._current is not None:
            self._send(self._current, {}, "The environment was reset")
            self._current = None
        self.agents, self._ids, self._observations, self._perceptions = [], {}, {}, {}
        self._finished, self._slots, self._next_slot, self._warned = set(), {}, 0, set()
        self._waiting = False
        while True:
            pending = self._next_tick("reset()")
            if pending.entries:
                break
            self._send(pending, {}, "No agents")
        if self._possible is None:
            self._possible = list(dict.fromkeys(agent_id for agent_id, _ in pending.entries))
        if seed is not None:
            for offset, agent in enumerate(self._possible):
                self.action_space(agent).seed(seed + offset)
        live = self._admit(pending)
        observations: dict[str, Any] = {}
        infos: dict[str, dict[str, Any]] = {}
        for name, (agent_id, entry) in live.items():
            observations[name], _, infos[name] = self._take(name, agent_id, entry, pending.number)
        self.agents = list(live)
        self._current = pending
        return observations, infos

    def step(
        self, actions: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, float], dict[str, bool], dict[str, bool], dict[str, dict[str, Any]]]:
        """Answers the current tick with ``actions`` (by agent name; an agent
        without one gets ``idle``, an action for an agent not in
        ``env.agents`` is ignored) and waits for the next tick. Raises
        :class:`TimeoutError` when none comes within ``tick_timeout``."""
        self._check_open()
        if self._current is not None:
            decisions = {}
            for name in self.agents:
                agent_id, action = self._ids[name], actions.get(name)
                if action is None:
                    decisions[agent_id] = idle("No action was given")
                elif self._act is not None:
                    decisions[agent_id] = checked_decision(self._act(name, action, self._perceptions[name]), name)
                else:
                    decisions[agent_id] = self._tool(name, action)
            self._send(self._current, decisions, "No action was given")
            self._current = None
            self._waiting = True
        elif not self._waiting:
            raise RuntimeError("there is no tick to answer: call reset() (first, or after every agent left)")
        pending = self._next_tick("step()")
        self._waiting = False
        live = self._admit(pending)

        observations: dict[str, Any] = {}
        rewards: dict[str, float] = {}
        terminations: dict[str, bool] = {}
        truncations: dict[str, bool] = {}
        infos: dict[str, dict[str, Any]] = {}
        for name in self.agents:
            if name in live:
                continue
            observations[name], rewards[name] = self._observations[name], 0.0
            terminations[name], truncations[name] = True, False
            infos[name] = {
                "agent_id": self._ids[name],
                "tick": pending.number,
                "perception": self._perceptions[name],
                "left": True,
            }
            self._finished.add(name)
        for name, (agent_id, entry) in live.items():
            observations[name], rewards[name], infos[name] = self._take(name, agent_id, entry, pending.number)
            terminations[name], truncations[name] = False, False
        self.agents = list(live)
        if live:
            self._current = pending
        else:
            self._send(pending, {}, "No agent is observed")
        return observations, rewards, terminations, truncations, infos

    def close(self) -> None:
        """Answers the tick in hand and any not yet met ``idle``, then stops
        the background connection and its thread. Idempotent."""
        if self._closed:
            return
        if self._current is not None:
            self._send(self._current, {}, "The environment was closed")
            self._current = None
        self._closed = True
        self.agents = []
        while True:
            try:
                item = self._ticks.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Tick) and not item.answer.done():
                self._send(item, {}, "The environment was closed")
        self._background.close()

    def __enter__(self) -> ArenaParallelEnv:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the environment's side ----------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the environment is closed")

    def _tool(self, agent: str, action: Any) -> Decision:
        """The default mapping: ``tools[action]``, made from the agent's perception."""
        try:
            index = int(action)
        except (TypeError, ValueError) as error:
            raise ValueError(f"the action for {agent!r} is not an index of tools {self._tools}: {action!r}") from error
        if not 0 <= index < len(self._tools):
            raise ValueError(f"the action for {agent!r} is {index}, not an index of tools {self._tools}")
        tool = self._tools[index]
        macro = MACROS.get(tool)
        if macro is None:
            return {"tool": tool, "params": {}, "reasoning": f"Chosen: {tool}"}
        return macro(self._perceptions[agent])

    def _take(self, name: str, agent_id: str, entry: Mapping[str, Any], tick: int) -> tuple[Any, float, dict[str, Any]]:
        """One observed agent's observation, reward and info, remembered for the next step."""
        perception = _perception(entry)
        observation = self._observe(perception)
        self._ids[name], self._observations[name], self._perceptions[name] = agent_id, observation, perception
        info: dict[str, Any] = {"agent_id": agent_id, "tick": tick, "perception": perception}
        if entry.get("experiences"):
            info["experiences"] = entry["experiences"]
        return observation, float(self._reward(perception)), info

    def _admit(self, pending: _Tick) -> dict[str, tuple[str, Mapping[str, Any]]]:
        """The tick's observed agents by name, in its order; ids not observed
        this episode are benched (answered idle). An agent the environment
        cannot name answers the tick idle and raises :class:`UnknownAgentError`."""
        live: dict[str, tuple[str, Mapping[str, Any]]] = {}
        slots, next_slot = dict(self._slots), self._next_slot
        possible = set(self._possible or ())
        for agent_id, entry in pending.entries:
            if self._max_agents is not None:
                name = slots.get(agent_id)
                if name is None:
                    if next_slot >= self._max_agents:
                        self._refuse(
                            pending,
                            f"agent {agent_id!r} would be the episode's agent number "
                            f"{next_slot + 1}, past max_agents={self._max_agents}",
                        )
                    name = slots[agent_id] = f"agent_{next_slot}"
                    next_slot += 1
            else:
                if agent_id not in possible:
                    self._refuse(pending, f"agent {agent_id!r} is not in possible_agents {self._possible}")
                name = agent_id
                if name in self._finished:
                    pending.benched.add(agent_id)
                    if agent_id not in self._warned:
                        self._warned.add(agent_id)
                        warnings.warn(
                            f"agent {agent_id!r} came back after it left; PettingZoo does not revive agents "
                            "within an episode, so it is answered idle until the next reset()",
                            ArenaWarning,
                            stacklevel=3,
                        )
                    continue
            live[name] = (agent_id, entry)
        # A slot whose agent left is not given again in this episode.
        self._slots = {agent_id: name for agent_id, name in slots.items() if name in live}
        self._next_slot = next_slot
        return live

    def _refuse(self, pending: _Tick, why: str) -> None:
        self._send(pending, {}, "The environment does not know this agent")
        hint = "list every agent in possible_agents, or use max_agents=N for agents named by slots"
        raise UnknownAgentError(f"tick {pending.number}: {why} ({hint})")

    def _send(self, pending: _Tick, decisions: Mapping[str, Decision], missing: str) -> None:
        """Answers ``pending``: ``decisions`` by agent id, ``idle`` for the rest."""
        answer = {}
        for agent_id, _ in pending.entries:
            if agent_id in pending.benched:
                answer[agent_id] = idle("Not observed by the environment until its next reset")
            else:
                answer[agent_id] = decisions.get(agent_id) or idle(missing)
        try:
            pending.answer.set_result(answer)
        except concurrent.futures.InvalidStateError:
            warnings.warn(
                f"tick {pending.number} was answered by the bridge's fallback (idle), not by these actions: "
                f"it waited for the environment past decide_timeout ({self._decide_timeout:g} s)",
                ArenaWarning,
                stacklevel=3,
            )

    def _next_tick(self, caller: str) -> _Tick:
        """The next tick still waiting for its answer, within ``tick_timeout``."""
        deadline = time.monotonic() + self._tick_timeout
        while True:
            try:
                item = self._ticks.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise TimeoutError(
                    f"{caller}: no tick from the game {self._game!r} within tick_timeout ({self._tick_timeout:g} s); "
                    f"is the game running and posting to {self._url}/tick?"
                ) from None
            if isinstance(item, _Stopped):
                self._ticks.put(item)  # for every later call too
                raise ConnectionError(f"the connection to the bridge stopped: {item.error!r}") from item.error
            if item.answer.done():
                warnings.warn(
                    f"tick {item.number} was answered by the bridge's fallback (idle) before the environment "
                    f"met it: more than decide_timeout ({self._decide_timeout:g} s) passed",
                    ArenaWarning,
                    stacklevel=3,
                )
                continue
            return item

    # -- the background agent's side (its own thread and loop) ----------------

    async def _decide(self, tick: Any, agents: Any) -> dict[str, Decision]:
        """The ``decide`` handler: hands the tick to the environment and
        waits for ``step`` (or ``reset``/``close``) to answer it."""
        if self._closed:
            raise RuntimeError("the environment is closed")
        self._background.track()
        number = tick if isinstance(tick, int) and not isinstance(tick, bool) else 0
        pending = _Tick(number, _entries(agents))
        self._ticks.put(pending)
        await asyncio.wait({asyncio.wrap_future(pending.answer)}, timeout=self._decide_timeout)
        # Cancelling fails when the environment answered meanwhile: the answer wins.
        if pending.answer.cancel():
            if self._closed:
                raise RuntimeError("the environment was closed")
            raise TimeoutError(
                f"the environment's step() did not answer tick {number} within {self._decide_timeout:g} s"
            )
        return pending.answer.result()
