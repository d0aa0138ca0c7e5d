"""A Gymnasium vector env on a learner's bridge stepping the emulators of two
other bridges, joined through a real ``nats-server`` (installed by
``.ci/deps``): the fleet carries the frames and the replies."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import serve, wait_for
from fake_mame import Tempest
from test_lockstep_env import listening_on

from gamebridge.envs import LockstepVectorEnv


def nats_program() -> str:
    found = shutil.which("nats-server") or ("/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None)
    if found is None:
        pytest.fail("no nats-server: apt-get install nats-server, or bash .ci/deps")
    return found


@pytest.fixture
def nats():
    """A nats-server with JetStream on a free port; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as store:
        process = subprocess.Popen(
            [nats_program(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:

            def accepting():
                with socket.socket() as connection:
                    return connection.connect_ex(("127.0.0.1", port)) == 0

            wait_for(accepting, "nats-server")
            yield f"nats://127.0.0.1:{port}"
        finally:
            process.kill()
            process.wait(10)


def served_by_the_learner(url: str, game: str) -> bool:
    functions = httpx.get(f"{url}/games/{game}/external/functions").json()["result"]["functions"]
    return any(function.get("agent") == "fleet: learner" for function in functions)


def test_a_vector_env_on_a_learner_steps_the_emulators_of_two_other_bridges(nats):
    processes, games = [], []
    try:
        emulators = []
        for index in (1, 2):
            game = f"tempest-{index}"
            process, url = serve(
                f"{game}=tempest?port=0&step_timeout_ms=2000", options=("--nats", nats, "--node", f"emu-{index}")
            )
            processes.append(process)
            emulators.append((game, url, wait_for(lambda url=url, game=game: listening_on(url, game), game)))
        process, learner = serve(options=("--nats", nats, "--node", "learner"))
        processes.append(process)

        def served_here() -> set[str]:
            return {entry["name"] for entry in httpx.get(f"{learner}/games").json()["result"]["games"]}

        wait_for(lambda: {"tempest-1", "tempest-2"} <= served_here(), "the learner to serve both games")
        envs = LockstepVectorEnv(learner, ["tempest-1", "tempest-2"], 2)
        try:
            for game, url, _ in emulators:
                wait_for(
                    lambda url=url, game=game: served_by_the_learner(url, game), f"{game}'s step to be the learner's"
                )
            games = [Tempest(address, length=3) for _, _, address in emulators]
            observations, infos = envs.reset()
            assert sorted(infos["instance"]) == ["tempest-1/1", "tempest-2/1"], "one emulator of each machine"
            assert observations[:, 0].tolist() == [1.0, 1.0]
            actions = np.array([[1, 0, 32], [0, 0, 32]])
            _, rewards, _, _, infos = envs.step(actions)
            assert rewards.tolist() == [1.0, 0.0], "each slot's action reached its emulator, across the fleet"
            assert not infos["defaulted"].any()
        finally:
            envs.close()
    finally:
        for game in games:
            game.stop()
        for process in processes:
            process.terminate()
            process.wait(10)
