"""Gymnasium environments over Tempest instances (the ``tempest`` profile and
its built-in frame spec), against the real bridge and fake MAME clients."""

from __future__ import annotations

import re
import threading

import httpx
import numpy as np
import pytest
from conftest import served, wait_for
from fake_mame import Mame, Tempest, frame
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import VectorEnv

from gamebridge.envs import LockstepEnv, LockstepVectorEnv

FIRE = np.array([1, 0, 32])  # MultiDiscrete: fire 1, zap 0, spinner 32 - 32 = 0


def test_spaces_come_from_the_frame_spec_and_actions_reach_the_game(tempest):
    url, address = tempest
    env = LockstepEnv(url, "tempest")
    game = Tempest(address, length=4)
    try:
        assert env.observation_space.shape == (195,)
        assert list(env.action_space.nvec) == [2, 2, 65], "fire, zap, spinner -32..32"
        observation, info = env.reset()
        assert observation.dtype == np.float32 and observation[0] == 1.0, "state[0]: the first frame of an episode"
        assert info["instance"] == "tempest/1" and not info["defaulted"]
        observation, reward, terminated, truncated, info = env.step(FIRE)
        assert (observation[0], reward, terminated, truncated) == (2.0, 1.0, False, False), "the game fired"
        assert info["fields"]["score"] == 1
        _, reward, _, _, _ = env.step(np.array([0, 0, 35]))
        assert reward == 0.0, "the game did not fire"
        _, reward, terminated, _, _ = env.step(FIRE)
        assert (reward, terminated) == (1.0, True), "frame 4 ends the episode"
        observation, _ = env.reset()
        assert observation[0] == 1.0, "reset waits for the next episode"
    finally:
        env.close()
        game.stop()
    # Fire 1, zap 0, spinner 0 and the default's settings; spinner 3; then the done frame's default.
    applied = [reply.hex() for reply in game.replies[:4]]
    assert applied == ["010000010d", "000003010d", "010000010d", "000000010d"]


def test_a_reset_mid_episode_plays_on_to_the_next_episode(tempest):
    url, address = tempest
    env = LockstepEnv(url, "tempest")
    game = Tempest(address, length=6)
    try:
        env.reset()
        env.step(FIRE)
        observation, _ = env.reset()
        assert observation[0] == 1.0
        observation, _ = env.reset(options={"wait_episode": False})
        assert observation[0] == 2.0, "the next frame as it is"
    finally:
        env.close()
        game.stop()


def test_check_env_passes(tempest):
    url, address = tempest
    env = LockstepEnv(url, "tempest")
    game = Tempest(address, length=3)
    try:
        # No second environment: the close check would make one on the same game.
        check_env(env, skip_close_check=True)
    finally:
        env.close()
        game.stop()


def test_a_vector_env_steps_every_instance_in_one_batch(tempest):
    url, address = tempest
    envs = LockstepVectorEnv(url, "tempest", 3)
    games = [Tempest(address, length=3) for _ in range(3)]
    try:
        assert isinstance(envs, VectorEnv)
        assert envs.observation_space.shape == (3, 195)
        observations, infos = envs.reset(seed=1)
        assert observations[:, 0].tolist() == [1.0, 1.0, 1.0]
        assert sorted(infos["instance"]) == ["tempest/1", "tempest/2", "tempest/3"]
        actions = np.array([[1, 0, 32], [0, 0, 32], [1, 0, 32]])
        observations, rewards, terminations, _, infos = envs.step(actions)
        assert rewards.tolist() == [1.0, 0.0, 1.0], "each slot's action reached its own instance"
        observations, rewards, terminations, _, _ = envs.step(actions)
        assert terminations.tolist() == [True, True, True] and observations[:, 0].tolist() == [3.0] * 3
        # NEXT_STEP autoreset: the done frames get the default; the new episodes begin.
        observations, rewards, terminations, truncations, _ = envs.step(actions)
        assert observations[:, 0].tolist() == [1.0] * 3 and rewards.tolist() == [0.0] * 3
        assert not terminations.any() and not truncations.any()
    finally:
        envs.close()
        for game in games:
            game.stop()


def test_a_silent_instance_gives_its_slot_to_a_new_one(tempest):
    url, address = tempest
    envs = LockstepVectorEnv(url, "tempest", 1, replace_after=0.5)
    first = Mame(address)
    try:
        # tempest/1 sends one frame, gets its reply, then falls silent (a crashed emulator).
        threading.Thread(target=first.step, args=(frame(counter=1),), daemon=True).start()
        _, infos = envs.reset()
        assert infos["instance"].tolist() == ["tempest/1"]
        second = Tempest(address, length=10)
        _, _, _, truncations, infos = envs.step(np.array([[0, 0, 32]]))
        assert infos["instance"].tolist() == ["tempest/2"] and truncations.tolist() == [True]
        second.stop()
    finally:
        envs.close()
        first.close()


def test_a_game_without_a_frame_spec_is_a_clear_error(raw_lockstep):
    with pytest.raises(ValueError, match="no frame spec"):
        LockstepEnv(raw_lockstep, "emu")


def test_one_vector_env_steps_the_instances_of_two_games():
    with served("left=tempest?port=0&step_timeout_ms=5000", "right=tempest?port=0&step_timeout_ms=5000") as url:
        addresses = [wait_for(lambda name=name: listening_on(url, name), name) for name in ("left", "right")]
        envs = LockstepVectorEnv(url, ["left", "right"], 2)
        games = [Tempest(address, length=3) for address in addresses]
        try:
            observations, infos = envs.reset()
            assert sorted(infos["instance"]) == ["left/1", "right/1"]
            _, rewards, _, _, infos = envs.step(np.array([[1, 0, 32], [0, 0, 32]]))
            assert rewards.tolist() == [1.0, 0.0] and not infos["defaulted"].any(), "both answered in time"
        finally:
            envs.close()
            for game in games:
                game.stop()


def listening_on(url: str, game: str) -> str | None:
    games = httpx.get(f"{url}/games").json()["result"]["games"]
    detail = next((entry.get("detail") or "" for entry in games if entry["name"] == game), "")
    found = re.search(r"listening on tcp:(\S+)", detail)
    return found and found.group(1)


def test_an_environment_started_while_the_game_runs_handles_its_frames_from_the_first(tempest, capsys):
    """MAME usually runs before the agent: frames come while the environment is
    still registering, and are taken as any other, none left to its deadline."""
    url, address = tempest
    game = Tempest(address, length=1000)
    wait_for(lambda: len(game.replies) >= 3, "the game to step on default replies")
    for _ in range(5):
        env = LockstepEnv(url, "tempest")
        try:
            _, info = env.reset(options={"wait_episode": False})
            for _ in range(3):
                _, _, _, _, info = env.step(FIRE)
                assert not info["defaulted"], info
        finally:
            env.close()
    game.stop()
    assert "handler failed" not in capsys.readouterr().err
