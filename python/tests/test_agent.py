"""Decorated agents over the WebSocket API: lockstep frames from a client that
behaves as Tempest's MAME script does, and Agent Arena ticks."""

import asyncio
import socket
import struct
import threading

import httpx

from gamebridge import Agent


def start(agent: Agent) -> None:
    """Runs the agent in a thread of its own until the test ends; returns once it is registered."""
    ready = threading.Event()

    def run():
        async def serve():
            registered = asyncio.Event()
            task = asyncio.create_task(agent.run_async(ready=registered))
            await registered.wait()
            ready.set()
            await task

        asyncio.run(serve())

    threading.Thread(target=run, daemon=True).start()
    assert ready.wait(30), "the agent registered"


def mame(address: str) -> socket.socket:
    """A connection as main.lua opens it: the 2-byte handshake first."""
    host, port = address.rsplit(":", 1)
    connection = socket.create_connection((host, int(port)), timeout=30)
    connection.sendall(struct.pack(">H", 0))
    return connection


def step(connection: socket.socket, frame: bytes) -> bytes:
    connection.sendall(struct.pack(">H", len(frame)) + frame)
    reply = b""
    while len(reply) < 5:
        reply += connection.recv(5 - len(reply))
    return reply


def test_a_step_function_answers_every_instance(tempest):
    url, address = tempest
    agent = Agent(url.replace("http://", "ws://") + "/agent")
    defaults = []
    agent.on_step_default = defaults.append

    @agent.step("tempest")
    def act(frames):
        # Fire, and echo the frame's first byte as the spinner.
        return [struct.pack(">bbbBB", 1, 0, frame.data[0] % 100, 1, 13) for frame in frames]

    start(agent)
    games = [mame(address) for _ in range(3)]
    for n in range(20):
        for instance, game in enumerate(games):
            assert step(game, bytes([instance * 10 + n % 10]) * 819) == struct.pack(
                ">bbbBB", 1, 0, instance * 10 + n % 10, 1, 13
            )
    for game in games:
        game.close()
    assert defaults == []


def test_a_decide_function_answers_a_whole_tick(arena):
    agent = Agent(arena.replace("http://", "ws://") + "/agent")

    @agent.decide("arena")
    def decide(tick, agents):
        return {a["agent_id"]: {"tool": "move_to", "params": {"target_position": [tick, 0, 0]}} for a in agents}

    start(agent)
    perceptions = [{"agent_id": f"a{n}", "tick": 4} for n in range(5)]
    answer = httpx.post(f"{arena}/tick", json={"tick": 4, "perceptions": perceptions}, timeout=30).json()
    assert [action["agent_id"] for action in answer["actions"]] == [f"a{n}" for n in range(5)]
    assert {action["tool"] for action in answer["actions"]} == {"move_to"}
    assert answer["actions"][2]["params"] == {"target_position": [4, 0, 0]}
