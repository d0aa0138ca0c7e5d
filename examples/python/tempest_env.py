"""A Gymnasium vector environment over Tempest instances, with a hand-written
policy in place of a learner (pip install './python[rl]').

    gamebridge serve --game tempest &
    for i in 1 2 3 4; do gamebridge sim --emu --tick-ms 1 examples/lua/tempest_like.lua & done
    python3 examples/python/tempest_env.py --envs 4 --steps 2000

Spaces come from the game's frame spec (the tempest profile's built-in
manifest): observations are the 195 state values, actions are
(fire, zap, spinner + 32). The policy spins towards the enemy (state[3] is its
signed distance in examples/lua/tempest_like.lua) and fires when on it.
"""

import argparse

import numpy as np

from gamebridge.envs import LockstepVectorEnv


def policy(observations: np.ndarray) -> np.ndarray:
    distance = np.round(observations[:, 3] * 15)
    actions = np.zeros((len(observations), 3), dtype=np.int64)
    actions[:, 0] = distance == 0  # fire when on the enemy's segment
    actions[:, 2] = 32 + np.sign(distance).astype(np.int64)  # spinner -1, 0 or +1
    return actions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:5000", help="the bridge's agent API")
    parser.add_argument("--envs", type=int, default=4, help="instances to step at once")
    parser.add_argument("--steps", type=int, default=2000)
    options = parser.parse_args()

    envs = LockstepVectorEnv(options.url, "tempest", options.envs)
    observations, infos = envs.reset(seed=0)
    print("stepping", ", ".join(infos["instance"]))
    returns, episode_returns, defaulted = np.zeros(options.envs), [], 0
    for _ in range(options.steps):
        observations, rewards, terminations, truncations, infos = envs.step(policy(observations))
        returns += rewards
        defaulted += int(infos["defaulted"].sum())
        for slot in np.flatnonzero(terminations | truncations):
            episode_returns.append(returns[slot])
            returns[slot] = 0
    envs.close()
    mean = np.mean(episode_returns) if episode_returns else float("nan")
    print(f"{len(episode_returns)} episodes, mean return {mean:.1f}, {defaulted} steps got the default reply")


if __name__ == "__main__":
    main()
