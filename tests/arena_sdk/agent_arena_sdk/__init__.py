"""A stand-in for the Agent Arena SDK (agent_arena_sdk), written for gamebridge's tests from
the SDK's documented interface: the types an agent imports and the calls it makes. The real
SDK is not on PyPI; the adapter is checked against it by hand (see the README).

Only what agents touch is here: ``Observation.from_dict`` (position required, nearby lists
of named entries), ``Decision`` with ``idle`` and ``to_dict`` (no ``reasoning`` key when it
is None), and ``AgentArena(host, port).run(agent)``, which in the real SDK starts its own
server; the stand-in refuses, so a test that reaches it fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ResourceInfo:
    name: str
    type: str
    position: tuple
    distance: float


@dataclass
class HazardInfo:
    name: str
    type: str
    position: tuple
    distance: float
    damage: float = 0.0


@dataclass
class Observation:
    agent_id: str
    tick: int
    position: tuple
    nearby_resources: list = field(default_factory=list)
    nearby_hazards: list = field(default_factory=list)
    health: float = 100.0
    energy: float = 100.0
    custom: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> Observation:
        def entries(kind, key):
            return [
                kind(name=e["name"], type=e["type"], position=tuple(e["position"]), distance=e["distance"])
                for e in data.get(key, [])
            ]

        known = {"agent_id", "tick", "position", "nearby_resources", "nearby_hazards", "health", "energy"}
        return cls(
            agent_id=data["agent_id"],
            tick=data["tick"],
            position=tuple(data["position"]),
            nearby_resources=entries(ResourceInfo, "nearby_resources"),
            nearby_hazards=entries(HazardInfo, "nearby_hazards"),
            health=data.get("health", 100.0),
            energy=data.get("energy", 100.0),
            custom={key: value for key, value in data.items() if key not in known},
        )


@dataclass
class Decision:
    tool: str
    params: dict = field(default_factory=dict)
    reasoning: str | None = None

    @classmethod
    def idle(cls, reasoning: str | None = None) -> Decision:
        return cls(tool="idle", params={}, reasoning=reasoning)

    def to_dict(self) -> dict:
        result = {"tool": self.tool, "params": self.params}
        if self.reasoning is not None:
            result["reasoning"] = self.reasoning
        return result


class AgentArena:
    def __init__(self, host: str = "127.0.0.1", port: int = 5000, enable_debug: bool = False):
        self.host, self.port = host, port

    def run(self, agent) -> None:
        raise RuntimeError("the stand-in SDK cannot serve; run the agent through gamebridge-arena-agent")

    async def run_async(self, agent) -> None:
        self.run(agent)
