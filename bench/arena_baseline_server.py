"""The Python baseline of ``gamebridge bench tick``: an Agent Arena tick server written from the
description of Agent Arena's IPC server (its seed, and its docs/ipc.md): a FastAPI app served by
uvicorn with one worker, that answers every ``POST /tick`` with one action per perception,
decided by the rule-based fallback the original uses when no behaviour is registered:

1. the first hazard in list order nearer than 3.0 is fled: ``move_to`` the point 5 units from the
   hazard, on the ground-plane (x/z) line from the hazard through the agent, at the agent's
   height, speed 2.0;
2. else the nearest resource, if nearer than 5.0, is approached: ``move_to`` its position at 1.5;
3. else ``idle``.

Distances are the ones the scene reports (``distance``; none is infinitely far). The reasoning
texts are the original's, so the answers equal the bridge's (the benchmark checks that they do).

The messages travel as the original carries them: FastAPI (pydantic) takes the body as a
``dict[str, Any]`` and gives back the answer as one; in between they are plain dataclasses with
the seed's fields and defaults (``PerceptionMessage``, ``ActionMessage``, ``TickRequest``,
``TickResponse``), each built with ``from_dict`` and written with ``to_dict``. Typing every field
as a pydantic model instead makes a 1,000-agent tick take about twice as long, a cost the original
never paid.

What it leaves out is the original's work beside the decision: it logs nothing (the original logs
a line per tick and a warning per agent, with uvicorn's access log on), and it runs no agent
runtime or tool registry. So it does less per tick than the original does, and a ratio measured
against it is, if anything, smaller than against the original.

    python bench/arena_baseline_server.py [--host 127.0.0.1] [--port 0]

It prints ``listening HOST:PORT loop=LOOP http=PROTOCOL`` once it serves, and serves until its
standard input closes. uvicorn picks the loop and HTTP parser it finds installed, as it does for
the original, whose requirements bring in ``uvicorn[standard]`` (through chromadb): uvloop and
httptools. Without them (``loop=asyncio http=h11``) it is slower than the original deployment.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import uvicorn
from fastapi import FastAPI

HAZARD_RANGE = 3.0
RESOURCE_RANGE = 5.0
FLEE_DISTANCE = 5.0
FAR = float("inf")


def origin() -> list[float]:
    return [0.0, 0.0, 0.0]


@dataclass
class PerceptionMessage:
    """What one agent perceives in a tick, with the seed's defaults."""

    agent_id: str
    tick: int
    position: list[float] = field(default_factory=origin)
    rotation: list[float] = field(default_factory=origin)
    velocity: list[float] = field(default_factory=origin)
    visible_entities: list[dict[str, Any]] = field(default_factory=list)
    inventory: list[dict[str, Any]] = field(default_factory=list)
    health: float = 100.0
    energy: float = 100.0
    custom_data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PerceptionMessage:
        return cls(
            agent_id=data["agent_id"],
            tick=data["tick"],
            position=data.get("position", origin()),
            rotation=data.get("rotation", origin()),
            velocity=data.get("velocity", origin()),
            visible_entities=data.get("visible_entities", []),
            inventory=data.get("inventory", []),
            health=data.get("health", 100.0),
            energy=data.get("energy", 100.0),
            custom_data=data.get("custom_data", {}),
        )


@dataclass
class TickRequest:
    tick: int
    perceptions: list[PerceptionMessage]
    simulation_state: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TickRequest:
        return cls(
            tick=data["tick"],
            perceptions=[PerceptionMessage.from_dict(seen) for seen in data.get("perceptions", [])],
            simulation_state=data.get("simulation_state", {}),
        )


@dataclass
class ActionMessage:
    """One agent's decision: a tool to run with its parameters, and why."""

    agent_id: str
    tick: int
    tool: str
    params: dict[str, Any] = field(default_factory=dict)
    reasoning: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "tick": self.tick,
            "tool": self.tool,
            "params": self.params,
            "reasoning": self.reasoning,
        }


@dataclass
class TickResponse:
    tick: int
    actions: list[ActionMessage]
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"tick": self.tick, "actions": [action.to_dict() for action in self.actions], "metrics": self.metrics}


class Decision(NamedTuple):
    """What the rules chose for one agent (a plain tuple: it never crosses the wire alone)."""

    tool: str
    params: dict[str, Any]
    reasoning: str


IDLE = Decision(tool="idle", params={}, reasoning="No immediate actions needed - exploring environment")


def distance_of(item: dict[str, Any]) -> float:
    return item.get("distance", FAR)


def flee(position: list[float], hazard: dict[str, Any]) -> Decision:
    """Away from ``hazard``, to 5 units from it along the line from it through the agent."""
    spot = hazard.get("position", origin())
    away_x, away_z = position[0] - spot[0], position[2] - spot[2]
    length = (away_x**2 + away_z**2) ** 0.5
    if length > 0:
        away_x, away_z = away_x / length * FLEE_DISTANCE, away_z / length * FLEE_DISTANCE
    else:  # on top of it: any way out will do
        away_x, away_z = FLEE_DISTANCE, 0.0
    kind = hazard.get("type", "unknown")
    return Decision(
        tool="move_to",
        params={"target_position": [spot[0] + away_x, position[1], spot[2] + away_z], "speed": 2.0},
        reasoning=f"Avoiding nearby {kind} hazard at distance {distance_of(hazard):.1f}",
    )


def collect(resource: dict[str, Any]) -> Decision:
    kind, name = resource.get("type", "unknown"), resource.get("name", "resource")
    return Decision(
        tool="move_to",
        params={"target_position": resource.get("position", origin()), "speed": 1.5},
        reasoning=f"Moving to collect {kind} ({name}) at distance {distance_of(resource):.1f}",
    )


def decide(perception: PerceptionMessage) -> Decision:
    """The rule-based fallback: flee a close hazard, else fetch a close resource, else idle."""
    nearby = perception.custom_data
    for hazard in nearby.get("nearby_hazards", []):
        if distance_of(hazard) < HAZARD_RANGE:
            return flee(perception.position, hazard)
    resources = nearby.get("nearby_resources", [])
    if resources:
        nearest = min(resources, key=distance_of)  # the first of the nearest
        if distance_of(nearest) < RESOURCE_RANGE:
            return collect(nearest)
    return IDLE


class Totals:
    """The server's running metrics, as the original keeps them."""

    def __init__(self) -> None:
        self.ticks = 0
        self.agents = 0
        self.average_tick_ms = 0.0

    def add(self, agents: int, tick_ms: float) -> None:
        self.ticks += 1
        self.agents += agents
        self.average_tick_ms = self.average_tick_ms * 0.9 + tick_ms * 0.1

    def as_dict(self) -> dict[str, Any]:
        return {
            "total_ticks": self.ticks,
            "total_agents_processed": self.agents,
            "avg_tick_time_ms": self.average_tick_ms,
        }


totals = Totals()
# The event loop uvicorn chose, named once the app starts.
running = {"loop": "?"}


@asynccontextmanager
async def lifespan(_app: FastAPI):
    running["loop"] = type(asyncio.get_running_loop()).__module__.split(".")[0]
    yield


app = FastAPI(title="Agent Arena tick baseline", lifespan=lifespan)


@app.get("/")
async def root() -> dict[str, Any]:
    return {"status": "running", "agents": 0, "metrics": totals.as_dict()}


@app.get("/health")
async def health() -> dict[str, Any]:
    return {"status": "ok", "agents": 0}


@app.get("/metrics")
async def metrics() -> dict[str, Any]:
    return totals.as_dict()


@app.post("/tick")
async def tick(body: dict[str, Any]) -> dict[str, Any]:
    """One action per perception, in order."""
    began = time.perf_counter()
    request = TickRequest.from_dict(body)
    actions = []
    for perception in request.perceptions:
        decision = decide(perception)
        actions.append(
            ActionMessage(
                agent_id=perception.agent_id,
                tick=request.tick,
                tool=decision.tool,
                params=decision.params,
                reasoning=decision.reasoning,
            )
        )
    tick_ms = (time.perf_counter() - began) * 1000
    totals.add(len(request.perceptions), tick_ms)
    metrics = {"tick_time_ms": tick_ms, "agents_processed": len(request.perceptions), "actions_generated": len(actions)}
    return TickResponse(tick=request.tick, actions=actions, metrics=metrics).to_dict()


def announce_then_stop_at_end_of_input(server: uvicorn.Server) -> None:
    """Says where the server listens once it does, then stops it when standard input closes."""
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.01)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    protocol = server.config.http_protocol_class
    http = {"H11Protocol": "h11", "HttpToolsProtocol": "httptools"}.get(protocol.__name__, protocol.__name__)
    print(f"listening {host}:{port} loop={running['loop']} http={http}", flush=True)
    sys.stdin.buffer.read()
    server.should_exit = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (the default) takes any free port")
    options = parser.parse_args()

    # As the original is run: uvicorn binds the address itself (and so sets TCP_NODELAY on every
    # connection, which a socket handed to it might not get), one worker, the loop and HTTP parser
    # uvicorn picks; but quiet, without the access log.
    config = uvicorn.Config(app, host=options.host, port=options.port, workers=1, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    threading.Thread(target=announce_then_stop_at_end_of_input, args=(server,), daemon=True).start()
    server.run()


if __name__ == "__main__":
    main()
