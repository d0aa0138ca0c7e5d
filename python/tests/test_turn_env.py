"""The turn-based Gymnasium environment against ``gamebridge demo``: the demo
ends a turn on ``EndTurn`` and then sends ``TurnStart``."""

import json
import threading
import time

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from gamebridge import Client
from gamebridge.envs.turns import DEMO_TURN_EVENT, INVALID_ACTION, TurnEnv, parse_action

# Long enough for a loaded machine: a step that gets its event ends far sooner.
WAIT = 60.0


def game_state(bridge: Client) -> dict:
    return {"turn": bridge.call("GetGameTurn"), "units": bridge.call("GetUnits")}


def warrior(state: dict) -> dict:
    return next(unit for unit in state["units"] if unit["id"] == 1)


def test_a_loop_of_turns_advances_the_game(demo):
    with TurnEnv(
        demo,
        "demo",
        observe=game_state,
        end_on=DEMO_TURN_EVENT,
        collect=["UnitMoved"],
        timeout=WAIT,
        reward=lambda previous, now, info: now["turn"] - previous["turn"],
    ) as env:
        text, info = env.reset(seed=1)
        assert env.observation_space.contains(text)
        assert json.loads(text) == info["observation"]
        assert info["observation"]["turn"] == 1
        for turn in range(2, 6):
            x = warrior(env._observation)["x"] + 1
            action = [{"function": "MoveUnit", "args": [1, x, 2]}, {"function": "EndTurn"}]
            # An agent's JSON text, or the parsed calls: the same action.
            text, reward, terminated, truncated, info = env.step(json.dumps(action) if turn % 2 else action)
            assert (terminated, truncated, info["timed_out"], info["action_error"]) == (False, False, False, None)
            assert env.observation_space.contains(text)
            observation = info["observation"]
            assert observation["turn"] == turn and reward == 1.0
            assert warrior(observation)["x"] == x, "the move ran"
            assert [result["success"] for result in info["results"]] == [True, True]
            assert info["results"][1] == {"function": "EndTurn", "success": True, "result": {"turn": turn}}
            assert info["event"]["type"] == "TurnStart" and info["event"]["payload"] == {"turn": turn}
            assert [event["type"] for event in info["events"]] == ["UnitMoved", "TurnStart"]
            assert info["events"][-1] == info["event"]
            assert info["step"] == turn - 1
        assert env.render() is None, "no render mode asked for"


def test_refused_calls_are_reported_not_raised(demo):
    with TurnEnv(demo, "demo", observe="GetGameTurn", end_on=DEMO_TURN_EVENT, timeout=WAIT) as env:
        assert env.reset()[0] == "1"
        deep: list = []
        for _ in range(80):
            deep = [deep]
        calls = [
            {"function": "NoSuchFunction"},
            {"function": "MoveUnit", "args": {"unitId": 1, "x": 9, "y": 9}},
            {"function": "Echo", "args": deep},
            {"function": "EndTurn"},
        ]
        text, _, _, truncated, info = env.step(calls)
        nowhere, too_far, too_deep, end_turn = info["results"]
        assert nowhere["success"] is False and nowhere["error"]["code"] == "LUA_EXECUTION_ERROR"
        assert "nil value" in nowhere["error"]["message"]
        assert too_far["error"]["code"] == "LUA_EXECUTION_ERROR" and "adjacent" in too_far["error"]["message"]
        assert too_deep["error"]["code"] == "INVALID_ARGUMENTS", "the bridge's own refusal, as the game's"
        assert end_turn["success"] is True
        assert (text, truncated, info["event"]["type"]) == ("2", False, "TurnStart"), "the batch ended the turn"


def test_a_lone_refused_call_waits_out_the_timeout_and_truncates(demo):
    with TurnEnv(demo, "demo", observe="GetGameTurn", end_on=DEMO_TURN_EVENT, timeout=1.0) as env:
        env.reset()
        started = time.monotonic()
        text, _, terminated, truncated, info = env.step({"function": "NoSuchFunction", "args": [1]})
        elapsed = time.monotonic() - started
        assert info["results"][0]["error"]["code"] == "LUA_EXECUTION_ERROR"
        assert (terminated, truncated, info["timed_out"], info["event"]) == (False, True, True, None)
        assert 1.0 <= info["waited"] <= elapsed < 20, "bounded by the timeout, with room for a loaded machine"
        assert text == "1", "nothing ran"


def test_a_step_whose_event_never_comes_ends_at_the_timeout(demo):
    with TurnEnv(demo, "demo", observe="GetGameTurn", end_on="NeverSent", timeout=1.5) as env:
        env.reset()
        started = time.monotonic()
        text, _, _, truncated, info = env.step('{"function": "EndTurn"}')
        elapsed = time.monotonic() - started
        assert (truncated, info["timed_out"], info["event"], info["events"]) == (True, True, None, [])
        assert 1.5 <= elapsed < 20
        assert text == "2", "the call ran; only the event is missing"
        # Stepping on after a timeout works; the environment is not broken.
        text, _, _, truncated, info = env.step([{"function": "EndTurn"}])
        assert (text, truncated) == ("3", True)


def test_a_predicate_picks_the_event_and_earlier_ones_are_reported(demo):
    with TurnEnv(
        demo,
        "demo",
        observe="GetGameTurn",
        end_on=DEMO_TURN_EVENT,
        end_if=lambda event: event.payload["turn"] == 4,
        timeout=WAIT,
    ) as env:
        env.reset()
        _, _, _, truncated, info = env.step([{"function": "EndTurn"}] * 3)
        assert (truncated, info["event"]["payload"]) == (False, {"turn": 4})
        assert [event["payload"]["turn"] for event in info["events"]] == [2, 3, 4]
        assert all(event["seq"] > 0 for event in info["events"])


def test_events_between_steps_are_reported_once_and_cannot_end_a_step(demo):
    with (
        TurnEnv(demo, "demo", observe="GetGameTurn", end_on=DEMO_TURN_EVENT, timeout=WAIT) as env,
        Client(demo) as bridge,
    ):
        env.reset()
        env.step({"function": "EndTurn"})
        # While the agent thinks, the game moves on by itself (as Civ V's AI
        # players do): that turn happened before the next action.
        assert bridge.call("EndTurn") == {"turn": 3}
        _, _, _, _, info = env.step({"function": "EndTurn"})
        assert info["event"]["payload"] == {"turn": 4}, "the turn after this step's calls, not the earlier one"
        assert [event["payload"]["turn"] for event in info["events"]] == [3, 4]


def test_actions_that_are_not_calls_send_nothing_and_do_not_wait(demo):
    with TurnEnv(demo, "demo", observe=("Echo", {"probe": "x"}), end_on=DEMO_TURN_EVENT, timeout=WAIT) as env:
        assert env.reset()[1]["observation"] == {"probe": "x"}
        for action in ["not json", '{"function": ""}', {"fn": "EndTurn"}, [1], 7, {"function": "EndTurn", "x": 1}]:
            started = time.monotonic()
            _, _, _, truncated, info = env.step(action)
            assert info["action_error"]["code"] == INVALID_ACTION, action
            assert info["action_error"]["message"]
            assert (info["results"], info["event"], info["timed_out"], truncated) == ([], None, False, False)
            assert time.monotonic() - started < WAIT / 2, "no wait for a turn"
        with Client(demo) as bridge:
            assert bridge.call("GetGameTurn") == 1, "no call reached the game"


def test_reset_can_wait_for_the_next_turn(demo):
    with TurnEnv(demo, "demo", observe="GetGameTurn", end_on=DEMO_TURN_EVENT, timeout=WAIT) as env:
        reset = threading.Event()

        def other_player():
            # Ends turns until the reset has seen one: no guess at when it subscribed.
            with Client(demo) as bridge:
                while not reset.is_set():
                    bridge.call("EndTurn")

        player = threading.Thread(target=other_player)
        player.start()
        try:
            text, info = env.reset(options={"wait_turn": True})
        finally:
            reset.set()
            player.join(WAIT)
        assert info["timed_out"] is False and info["event"]["type"] == "TurnStart"
        assert info["event"]["payload"]["turn"] <= int(text)

    with TurnEnv(demo, "demo", observe="GetGameTurn", end_on="NeverSent", timeout=0.5) as env:
        _, info = env.reset(options={"wait_turn": True})
        assert (info["timed_out"], info["event"]) == (True, None)


def test_done_max_turns_and_render(demo):
    with TurnEnv(
        demo,
        "demo",
        observe="GetGameTurn",
        end_on=DEMO_TURN_EVENT,
        timeout=WAIT,
        done=lambda turn, info: turn >= 3,
        max_turns=3,
        render_mode="ansi",
    ) as env:
        env.reset()
        outcomes = [env.step({"function": "EndTurn"})[2:4] for _ in range(3)]
        assert outcomes == [(False, False), (True, False), (True, True)]
        assert env.render() == "4"
        env.reset()
        assert env.step({"function": "EndTurn"})[2:4] == (True, False), "reset starts the count again"


def test_no_reset_no_step_and_closing_twice(demo):
    env = TurnEnv(demo, "demo", observe="GetGameTurn", end_on=DEMO_TURN_EVENT)
    with pytest.raises(gym.error.ResetNeeded):
        env.step({"function": "EndTurn"})
    env.reset()
    reader = env._reader
    started = time.monotonic()
    env.close()
    assert not reader.thread.is_alive(), "close() wakes the event reader rather than wait for a ping"
    assert time.monotonic() - started < 4.5
    env.close()
    with pytest.raises(ValueError):
        TurnEnv(demo, "demo", observe="GetGameTurn", timeout=0)


def test_gymnasiums_own_checks_pass(demo):
    # Sampled actions are random text, so nothing is sent and no step waits.
    env = TurnEnv(demo, "demo", observe="GetUnits", end_on=DEMO_TURN_EVENT, timeout=WAIT, max_text_length=2000)
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()


def test_parse_action():
    assert parse_action(None) == [] and parse_action("[]") == []
    assert parse_action('{"function": "MoveUnit", "args": [1, 3, 3]}') == [{"function": "MoveUnit", "args": [1, 3, 3]}]
    assert parse_action([{"function": "A", "args": None}, {"function": "B", "args": {"k": 1}}]) == [
        {"function": "A"},
        {"function": "B", "args": {"k": 1}},
    ]
    with pytest.raises(ValueError, match="call 1"):
        parse_action([{"function": "A"}, "B"])
