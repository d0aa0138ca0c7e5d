"""The PettingZoo environment over Agent Arena ticks, against the real bridge.

A fake Godot game posts ticks to the bridge's ``/tick`` one after another,
each once the previous one is answered, as the scene does; the environment
decides them over the WebSocket API. Every wait is on a queue or an event,
with a generous bound that only limits how long a failure takes.
"""

from __future__ import annotations

import itertools
import queue
import random
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator

import httpx
import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo.test import parallel_api_test

from gamebridge.envs import ArenaParallelEnv
from gamebridge.envs.arena import DEFAULT_TOOLS, ArenaWarning, UnknownAgentError, encode_perception, perception_space

WAIT = 60.0  # a bound for a failure on a loaded machine, never a pause
MOVE, FLEE = DEFAULT_TOOLS.index("move_to_resource"), DEFAULT_TOOLS.index("flee_hazard")


class FakeGame:
    """Godot's side of the arena: each tick is posted once the previous one is
    answered; ``answers`` gets ``(tick body, answer)`` as they come back."""

    def __init__(self, url: str, ticks: Iterable[dict]):
        self.url = url
        self.ticks = iter(ticks)
        self.answers: queue.Queue[tuple[dict, dict] | BaseException] = queue.Queue()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        try:
            with httpx.Client(timeout=WAIT) as client:
                for body in self.ticks:
                    if self.stopping.is_set():
                        return
                    response = client.post(f"{self.url}/tick", json=body)
                    response.raise_for_status()
                    self.answers.put((body, response.json()))
        except BaseException as error:  # the test sees it at its next answer()
            self.answers.put(error)

    def answer(self) -> tuple[dict, dict[str, dict]]:
        """The next tick's body and its actions by agent id, in either shape."""
        got = self.answers.get(timeout=WAIT)
        if isinstance(got, BaseException):
            raise AssertionError(f"the game failed: {got!r}") from got
        body, answer = got
        assert answer["tick"] == body["tick"]
        return body, {action["agent_id"]: action.get("action", action) for action in answer["actions"]}

    def stop(self) -> None:
        self.stopping.set()


@pytest.fixture
def make(arena):
    """``make(ticks, **options) -> (game, env)``; both are stopped after the test."""
    made: list[tuple[FakeGame, ArenaParallelEnv]] = []

    def start(ticks: Iterable[dict], **options) -> tuple[FakeGame, ArenaParallelEnv]:
        env = ArenaParallelEnv(arena, **options)
        game = FakeGame(arena, ticks)
        made.append((game, env))
        return game, env

    yield start
    for game, env in made:
        game.stop()
        env.close()  # answers the tick in hand, so the game's post returns
        game.thread.join(WAIT)


def v1(tick: int, *perceptions: dict) -> dict:
    """The scene's V1 tick: nearby lists in ``custom_data``."""
    return {"tick": tick, "perceptions": list(perceptions), "simulation_state": {}}


def sdk(tick: int, **observations: dict) -> dict:
    """The SDK's tick: ``{tick, agents: [{agent_id, observations}]}``."""
    return {"tick": tick, "agents": [{"agent_id": agent, "observations": seen} for agent, seen in observations.items()]}


def numbered(make_tick: Callable[[int], dict], start: int = 1) -> Iterator[dict]:
    return (make_tick(tick) for tick in itertools.count(start))


def in_space(env: ArenaParallelEnv, observations: dict) -> bool:
    return all(env.observation_space(agent).contains(seen) for agent, seen in observations.items())


FORAGER = {
    "agent_id": "a",
    "position": [0.0, 0.0, 0.0],
    "custom_data": {
        "nearby_resources": [
            {"position": [10.0, 0.0, 0.0], "distance": 10.0, "type": "wood", "name": "far"},
            {"position": [3.0, 0.0, 4.0], "distance": 5.0, "type": "berry", "name": "bush"},
        ],
        "nearby_hazards": [{"position": [1.0, 0.0, 0.0], "distance": 1.0, "type": "fire", "name": "pit"}],
    },
}
IDLER = {"agent_id": "b", "position": [10.0, 2.0, 10.0], "health": 40, "reward": 2.5}


def test_the_actions_of_step_are_the_games_answers(make):
    game, env = make(numbered(lambda tick: v1(tick, FORAGER, IDLER)))
    observations, infos = env.reset(seed=3)
    assert env.agents == ["a", "b"] and env.possible_agents == ["a", "b"], "learned from the first tick"
    assert in_space(env, observations)
    # Own position, health and energy (the bridge's V1 defaults), then the
    # nearest resource first, relative to the agent, and the hazard.
    assert observations["a"][:5].tolist() == [0, 0, 0, 100, 100]
    assert observations["a"][5:15].tolist() == [1, 3, 0, 4, 5, 1, 10, 0, 0, 10]
    assert observations["a"][20:25].tolist() == [1, 1, 0, 0, 1]
    assert observations["b"][3] == 40 and not observations["b"][5:].any()
    assert infos["a"]["perception"]["custom_data"]["nearby_hazards"][0]["name"] == "pit"
    assert (infos["a"]["agent_id"], infos["a"]["tick"]) == ("a", 1)

    observations, rewards, terminations, truncations, infos = env.step({"a": MOVE})
    assert rewards == {"a": 0.0, "b": 2.5}, "the perception's reward field"
    assert terminations == truncations == {"a": False, "b": False}
    assert infos["a"]["tick"] == 2 and in_space(env, observations)
    body, actions = game.answer()
    assert body["tick"] == 1
    assert actions["a"]["tool"] == "move_to"
    assert actions["a"]["params"] == {"target_position": [3.0, 0.0, 4.0], "speed": 1.5}
    assert actions["b"]["tool"] == "idle", "an agent without an action idles"

    env.step({"a": FLEE, "b": MOVE})
    body, actions = game.answer()
    assert body["tick"] == 2
    # 5 units from the hazard at x = 1, on the line through the agent at x = 0.
    assert actions["a"]["params"]["target_position"] == [-4.0, 0.0, 0.0]
    assert actions["b"] == {
        "agent_id": "b",
        "tick": 2,
        "tool": "idle",
        "params": {},
        "reasoning": "No resource in sight",
    }


def test_act_observe_and_reward_can_be_the_users(make):
    def act(agent, action, perception):
        return {"tool": "move_to", "params": {"target_position": action}, "reasoning": f"{agent} at {perception['x']}"}

    game, env = make(
        numbered(lambda tick: sdk(tick, scout={"x": tick, "energy": 50 + tick})),
        act=act,
        action_space=spaces.Box(-10.0, 10.0, (3,), dtype=np.float32),
        observe=lambda perception: np.array([perception["x"]], dtype=np.float32),
        observation_space=spaces.Box(0.0, np.inf, (1,), dtype=np.float32),
        reward=lambda perception: perception["energy"] / 10,
    )
    observations, _ = env.reset()
    assert observations == {"scout": np.array([1.0], dtype=np.float32)}
    assert env.action_space("scout") is env.action_space("scout")
    observations, rewards, *_ = env.step({"scout": np.array([7.0, 0.0, -3.0], dtype=np.float32)})
    assert observations["scout"][0] == 2 and rewards == {"scout": 5.2}
    body, actions = game.answer()
    assert body["tick"] == 1
    assert actions["scout"] == {
        "tool": "move_to",
        "params": {"target_position": [7.0, 0.0, -3.0]},
        "reasoning": "scout at 1",
    }


def test_agents_join_and_leave_as_pettingzoo_expects(make):
    scripted = [["a", "b"], ["b", "c"], ["a", "b", "c"], [], ["c", "a"]]
    ticks = (
        sdk(tick, **{agent: {"position": [tick, 0, 0]} for agent in agents}) for tick, agents in enumerate(scripted, 1)
    )
    game, env = make(ticks, possible_agents=["a", "b", "c"])
    assert env.possible_agents == ["a", "b", "c"]
    observations, _ = env.reset()
    assert env.agents == ["a", "b"] and set(observations) == {"a", "b"}

    observations, rewards, terminations, truncations, infos = env.step({"a": 0, "b": 0})
    assert set(observations) == set(rewards) == set(terminations) == set(truncations) == {"a", "b", "c"}
    assert terminations == {"a": True, "b": False, "c": False}, "a left, c joined"
    assert infos["a"]["left"] and infos["a"]["perception"]["position"] == [1, 0, 0], "a's last perception"
    assert env.agents == ["b", "c"]

    with pytest.warns(ArenaWarning, match="'a' came back"):
        observations, _, terminations, _, _ = env.step({"b": 0, "c": 0})
    assert set(observations) == {"b", "c"} and env.agents == ["b", "c"], "a is not revived in the episode"

    observations, _, terminations, _, _ = env.step({"b": 0, "c": 0})
    assert terminations == {"b": True, "c": True} and env.agents == [], "a tick without agents ends the episode"
    answered = {}
    for _ in range(4):
        body, actions = game.answer()
        answered[body["tick"]] = actions
    assert sorted(answered) == [1, 2, 3, 4]
    assert answered[3]["a"]["tool"] == "idle" and "Not observed" in answered[3]["a"]["reasoning"]
    assert answered[4] == {}

    observations, infos = env.reset()
    assert env.agents == ["c", "a"] and infos["a"]["tick"] == 5, "a new episode observes a again"


def test_an_agent_outside_possible_agents_is_refused_and_answered(make):
    scripted = [["a"], ["a", "z"], ["a"]]
    game, env = make(sdk(tick, **dict.fromkeys(agents, {})) for tick, agents in enumerate(scripted, 1))
    env.reset()
    with pytest.raises(UnknownAgentError, match="'z' is not in possible_agents"):
        env.step({"a": 0})
    assert game.answer()[0]["tick"] == 1
    body, actions = game.answer()
    assert body["tick"] == 2 and set(actions) == {"a", "z"}, "the refused tick is answered, not left waiting"
    assert {action["tool"] for action in actions.values()} == {"idle"}
    with pytest.raises(RuntimeError, match="reset"):
        env.step({"a": 0})
    observations, _ = env.reset()
    assert set(observations) == {"a"}


def test_max_agents_names_agents_by_slots(make):
    scripted = [["x", "y"], ["y"], ["y", "x"], ["y", "x", "w"]]
    game, env = make((sdk(tick, **dict.fromkeys(agents, {})) for tick, agents in enumerate(scripted, 1)), max_agents=3)
    assert env.possible_agents == ["agent_0", "agent_1", "agent_2"], "known before any tick"
    _, infos = env.reset()
    assert {name: info["agent_id"] for name, info in infos.items()} == {"agent_0": "x", "agent_1": "y"}
    _, _, terminations, _, _ = env.step({})
    assert terminations == {"agent_0": True, "agent_1": False} and env.agents == ["agent_1"]
    _, _, terminations, _, infos = env.step({})
    assert env.agents == ["agent_1", "agent_2"] and infos["agent_2"]["agent_id"] == "x", "x back in a fresh slot"
    with pytest.raises(UnknownAgentError, match="past max_agents=3"):
        env.step({})


def place(rng: random.Random) -> list[float]:
    return [rng.uniform(-20, 20), 0.0, rng.uniform(-20, 20)]


def items(rng: random.Random, kind: str) -> list[dict]:
    return [{"position": place(rng), "type": kind, "name": f"{kind}{n}"} for n in range(rng.randint(0, 5))]


def arena_ticks() -> Iterator[dict]:
    """Agents that come and go (d every fourth tick, b and c in turns), an
    empty tick now and then, resources and hazards at random, a reward, and
    odd values where numbers belong."""
    for tick in itertools.count(1):
        rng = random.Random(tick)
        agents = ["a"] + ["b"] * (tick % 10 < 6) + ["c"] * (tick % 10 >= 3) + ["d"] * (tick % 4 == 0)
        perceptions = {
            agent: {
                "position": place(rng),
                "health": rng.uniform(0, 100),
                "energy": rng.choice([rng.uniform(0, 100), None, "odd"]),
                "nearby_resources": items(rng, "berry"),
                "nearby_hazards": items(rng, "fire"),
                "reward": rng.choice([0, 1, -0.5]),
            }
            for agent in ([] if tick % 23 == 0 else agents)
        }
        yield sdk(tick, **perceptions)


def test_the_pettingzoo_parallel_api_test_passes(make):
    game, env = make(arena_ticks(), possible_agents=["a", "b", "c", "d"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parallel_api_test(env, num_cycles=60)
        # Every observation lies in its space, over episodes that end.
        observations, _ = env.reset()
        for _ in range(60):
            assert in_space(env, observations)
            actions = {agent: env.action_space(agent).sample() for agent in env.agents}
            observations, *_ = env.step(actions)
            if not env.agents:
                observations, _ = env.reset()
        assert in_space(env, observations)
    # PettingZoo's own complaints are warnings; there must be none but the
    # one about agents that never appeared before an episode ended.
    complaints = [
        str(warning.message)
        for warning in caught
        if not issubclass(warning.category, ArenaWarning) and "not all possible_agents" not in str(warning.message)
    ]
    assert complaints == []
    assert any("came back" in str(warning.message) for warning in caught), "revivals were met, and benched"


def test_a_silent_game_makes_step_and_reset_time_out(make):
    game, env = make([sdk(1, a={})], tick_timeout=2.0)
    env.reset()
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="no tick from the game 'arena' within tick_timeout"):
        env.step({"a": MOVE})
    assert 1.5 < time.monotonic() - started < WAIT / 2
    assert game.answer()[0]["tick"] == 1, "the tick was answered before the wait"
    with pytest.raises(TimeoutError):
        env.step({})  # still waiting, still bounded
    with pytest.raises(TimeoutError):
        env.reset()


def test_a_late_step_finds_its_tick_answered_by_the_bridge(make):
    game, env = make(numbered(lambda tick: sdk(tick, a=FORAGER["custom_data"])), decide_timeout=0.5)
    env.reset()
    body, actions = game.answer()  # the bridge's fallback, as step did not come
    assert body["tick"] == 1 and actions["a"]["tool"] == "idle"
    assert "did not answer tick 1" in actions["a"]["reasoning"]
    with pytest.warns(ArenaWarning, match="past decide_timeout"):
        _, _, _, _, infos = env.step({"a": MOVE})
    assert infos["a"]["tick"] >= 2


def test_close_answers_the_tick_and_ends_the_connection(make):
    game, env = make(numbered(lambda tick: v1(tick, FORAGER)))
    env.reset()
    env.close()
    body, actions = game.answer()
    assert body["tick"] == 1 and actions["a"]["reasoning"] == "The environment was closed"
    assert not env._background._thread.is_alive()
    # With no agent deciding, the bridge's rules answer: flee the fire. A tick
    # posted before the bridge saw the socket close fails over to idle first.
    for _ in range(10):
        _, actions = game.answer()
        if "disconnected" not in actions["a"]["reasoning"]:
            break
    assert actions["a"]["reasoning"].startswith("Avoiding nearby fire hazard")
    env.close()
    with pytest.raises(RuntimeError, match="closed"):
        env.reset()


def test_no_bridge_is_a_connection_error():
    with pytest.raises(ConnectionError, match="could not register decide"):
        ArenaParallelEnv("http://127.0.0.1:9", connect_timeout=1.0)


def test_the_default_observation_survives_odd_data():
    odd = {
        "position": [1e400, None],
        "health": float("nan"),
        "nearby_hazards": [{"position": "x"}, 3, {"position": [2]}],
    }
    vector = encode_perception(odd)
    assert perception_space().contains(vector) and np.isfinite(vector).all()
    assert vector[1:4].tolist() == [0, 0, 0], "null, missing and NaN numbers are 0"
    assert vector[20] == 1 and not vector[25:].any(), "one hazard has a position, the others are left out"


def test_an_environment_started_while_the_scene_ticks_decides_from_its_first_tick(arena):
    """The scene usually runs before the learner: a tick comes while the
    environment is still registering, and is decided as any other."""
    game = FakeGame(arena, numbered(lambda tick: v1(tick, IDLER)))
    try:
        game.answer()  # ticking, on the rules, before any environment
        for _ in range(5):
            env = ArenaParallelEnv(arena)
            try:
                env.reset()
                env.step({"b": MOVE})
            finally:
                env.close()
        answers = [game.answers.get_nowait() for _ in range(game.answers.qsize())]
        reasons = [action.get("reasoning", "") for _, answer in answers for action in answer["actions"]]
        assert not [reason for reason in reasons if "Error" in reason], reasons
    finally:
        game.stop()
        game.thread.join(WAIT)
