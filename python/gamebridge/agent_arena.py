"""Agents written for the Agent Arena SDK, run against gamebridge unchanged.

An SDK agent is a ``decide(Observation) -> Decision`` function (or an object
with such a ``decide`` method) handed to ``AgentArena().run(...)``, which
starts a FastAPI server of its own for the Godot scene. With gamebridge the
bridge is that server: this adapter connects the same function to the
bridge's WebSocket agent API as the ``decide`` function of the arena game,
so every tick (both of the scene's shapes) is decided by it, with the SDK's
own ``Observation`` and ``Decision`` types.

    gamebridge-arena-agent my_agent.py              # the script, unchanged
    gamebridge-arena-agent my_agents:decide         # or one callable of a module

A script is run as ``python my_agent.py`` would run it, with
``AgentArena.run`` / ``run_async`` connecting to the bridge instead of
serving; ``AgentArena(host, port)`` then names nothing (the bridge is found
with ``--url``). As the SDK's server does, an agent that raises gets
``idle`` with ``Error: ...`` as its reasoning, and the others of the tick are
unaffected. Experiences the scene reported reach the agent in the
observation's ``experiences``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import runpy
import sys
from collections.abc import Callable
from typing import Any

DEFAULT_URL = "ws://127.0.0.1:5000/agent"


def sdk():
    """The Agent Arena SDK, or a clear exit when it is not installed."""
    try:
        import agent_arena_sdk
    except ImportError as error:
        raise SystemExit(
            "gamebridge-arena-agent runs agents written for the Agent Arena SDK; install it first "
            f"(pip install AgentArena/python/sdk): {error}"
        ) from error
    return agent_arena_sdk


def resolve(agent: Any) -> Callable[[Any], Any]:
    """The decision function of ``agent``, by the SDK's own rules."""
    if hasattr(agent, "decide") and callable(agent.decide):
        return agent.decide
    if callable(agent):
        return agent
    raise TypeError("agent must be a callable(Observation -> Decision) or an object with a decide method")


def observation_data(agent_id: str, tick: Any, observation: Any, experiences: Any) -> dict:
    """What the SDK's ``Observation.from_dict`` reads, from what the bridge sends.

    A perception of the scene's first shape keeps its nearby lists in
    ``custom_data``; the SDK reads them at the top level. As the SDK's server,
    the agent's id and the tick are added where they are missing.
    """
    data = dict(observation) if isinstance(observation, dict) else {}
    custom = data.get("custom_data")
    if isinstance(custom, dict):
        for key, value in custom.items():
            data.setdefault(key, value)
    data.setdefault("agent_id", agent_id)
    data.setdefault("tick", tick)
    if experiences:
        data.setdefault("experiences", experiences)
    return data


def decide_tick(decide: Callable[[Any], Any], tick: Any, agents: list[dict]) -> dict[str, dict]:
    """Every agent's action for one tick, by agent id."""
    types = sdk()
    actions = {}
    for agent in agents:
        agent_id = agent.get("agent_id")
        try:
            data = observation_data(agent_id, tick, agent.get("observation"), agent.get("experiences"))
            actions[agent_id] = decide(types.Observation.from_dict(data)).to_dict()
        except Exception as error:  # noqa: BLE001 - one agent's failure is its own, as in the SDK server
            actions[agent_id] = types.Decision.idle(reasoning=f"Error: {error}").to_dict()
    return actions


async def serve(decide: Callable[[Any], Any], url: str, game: str, token: str | None, timeout_ms: int) -> None:
    """Decides the game's ticks as a :class:`~gamebridge.agent.Agent` until
    interrupted, reconnecting when the bridge goes away."""
    from .agent import Agent

    agent = Agent(url, token=token)
    agent.decide(game, timeout_ms=timeout_ms)(lambda tick, agents: decide_tick(decide, tick, agents))
    ready = asyncio.Event()

    async def announce() -> None:
        await ready.wait()
        print(f"gamebridge-arena-agent: deciding {game} at {url}", flush=True)

    announced = asyncio.create_task(announce())
    try:
        await agent.run_async(ready=ready)
    except RuntimeError as refused:
        raise SystemExit(str(refused)) from refused
    finally:
        announced.cancel()


def run_script(path: str, connect: Callable[[Callable[[Any], Any]], Any]) -> None:
    """Runs an SDK script as ``python path`` would, its ``AgentArena`` connected to the bridge."""
    arena = sdk().AgentArena

    def run(self, agent):
        try:
            asyncio.run(connect(resolve(agent)))
        except KeyboardInterrupt:
            pass

    async def run_async(self, agent):
        await connect(resolve(agent))

    arena.run, arena.run_async = run, run_async
    # As `python path`: its folder first on the import path, its name as argv[0].
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    sys.argv = [path]
    runpy.run_path(path, run_name="__main__")


def load(target: str) -> Callable[[Any], Any]:
    """``module:attribute`` as an agent."""
    module, _, attribute = target.partition(":")
    sys.path.insert(0, os.getcwd())
    agent = importlib.import_module(module)
    for part in attribute.split("."):
        agent = getattr(agent, part)
    return resolve(agent)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="gamebridge-arena-agent",
        description="Run an agent written for the Agent Arena SDK against gamebridge, unchanged.",
    )
    parser.add_argument("agent", help="a script that calls AgentArena().run(decide), or module:callable")
    parser.add_argument(
        "--url",
        default=os.environ.get("GAMEBRIDGE_URL", DEFAULT_URL),
        help=f"the bridge's WebSocket agent API (default {DEFAULT_URL}, or GAMEBRIDGE_URL)",
    )
    parser.add_argument("--game", default="arena", help="the Agent Arena game's name on the bridge (default arena)")
    parser.add_argument(
        "--token",
        default=os.environ.get("GAMEBRIDGE_TOKEN"),
        help="the bridge's token, if it has one (default GAMEBRIDGE_TOKEN)",
    )
    parser.add_argument(
        "--timeout-ms",
        type=int,
        default=25000,
        help="how long the bridge waits for one tick's decisions (default 25000)",
    )
    options = parser.parse_args(argv)

    def connect(decide):
        return serve(decide, options.url, options.game, options.token, options.timeout_ms)

    if options.agent.endswith(".py") or os.path.isfile(options.agent):
        run_script(options.agent, connect)
    else:
        try:
            asyncio.run(connect(load(options.agent)))
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
