"""Decorated agents over the WebSocket API: lockstep frames from a client that
behaves as Tempest's MAME script does, a game's external call, and Agent
Arena ticks."""

import asyncio
import json
import queue
import socket
import struct
import threading

import httpx
import numpy as np
from conftest import served
from fake_mame import Mame, frame

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


def test_a_step_function_answers_every_instance(tempest):
    url, address = tempest
    agent = Agent(url.replace("http://", "ws://") + "/agent")
    defaults = []
    agent.on_step_default = defaults.append

    @agent.step("tempest")
    def act(frames):
        # One call per batch; the frame spec gives named numpy fields. Fire,
        # and the frame's score as the spinner.
        assert frames.records["state"].shape == (len(frames), 195)
        replies = np.zeros(len(frames), frames.spec.reply_dtype)
        replies["fire"], replies["spinner"] = 1, frames.records["score"]
        replies["start_advanced"], replies["start_level_min"] = 1, 13
        return replies

    start(agent)
    games = [Mame(address) for _ in range(3)]
    for n in range(20):
        for instance, game in enumerate(games):
            score = instance * 10 + n % 10
            assert game.step(frame(score=score)) == struct.pack(">bbbBB", 1, 0, score, 1, 13)
    for game in games:
        game.close()
    assert defaults == []
    assert agent.lockstep["tempest"]["hold_ms"] == 3000, "the bridge told the agent its layout and bounds"


def test_a_frame_that_breaks_the_spec_never_reaches_the_agent(tempest):
    url, address = tempest
    agent = Agent(url.replace("http://", "ws://") + "/agent")
    notices, seen = queue.Queue(), []
    agent.on_step_default = notices.put

    @agent.step("tempest")
    def act(frames):
        seen.extend(frames)
        return [b"\x01\x00\x00\x01\x0d"] * len(frames)

    start(agent)
    game = Mame(address)
    assert game.step(b"\x00" * 819) == bytes.fromhex("000000010d"), "num_values 0: the default reply"
    notice = notices.get(timeout=30)
    assert (notice["code"], notice["message"]) == ("SERIALIZATION_ERROR", "num_values is 0; its spec says 195")
    assert game.step(frame()) == b"\x01\x00\x00\x01\x0d"
    assert len(seen) == 1
    game.close()


def test_a_function_answers_the_games_external_call(tmp_path):
    """A game in the Vox Deorum bridge protocol (a socket server, frames ended
    by ``!@#$%^!``) calls ``AnalyzeThreat``; the decorated function answers."""
    path = str(tmp_path / "game.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)
    with server, served(f"civ=unix:{path}") as url:
        agent = Agent(url.replace("http://", "ws://") + "/agent")

        @agent.function("AnalyzeThreat", game="civ")
        def analyze(args):
            return {"threat": "high" if args["unitId"] == 5 else "low"}

        server.settimeout(30)
        game, _ = server.accept()
        game.settimeout(30)
        start(agent)
        messages = Messages(game)
        assert messages.next_of("external_register")["name"] == "AnalyzeThreat"
        call = {"type": "external_call", "id": 7, "function": "AnalyzeThreat", "args": {"unitId": 5}, "async": False}
        game.sendall(json.dumps(call).encode() + DELIMITER)
        answer = messages.next_of("external_response")
        assert answer == {"type": "external_response", "id": 7, "success": True, "result": {"threat": "high"}}
        game.close()


DELIMITER = b"!@#$%^!"


class Messages:
    """The bridge's messages to a game, frame by frame."""

    def __init__(self, connection: socket.socket):
        self.connection, self.buffer = connection, b""

    def next_of(self, kind: str) -> dict:
        while True:
            while DELIMITER not in self.buffer:
                chunk = self.connection.recv(65536)
                assert chunk, "the bridge closed the connection"
                self.buffer += chunk
            text, self.buffer = self.buffer.split(DELIMITER, 1)
            message = json.loads(text)
            if message.get("type") == kind:
                return message


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
