"""An agent as the Agent Arena SDK's quick start writes one; gamebridge's adapter runs it
unchanged (tests/arena_sdk.rs)."""

from agent_arena_sdk import AgentArena, Decision, Observation


def decide(obs: Observation) -> Decision:
    if obs.agent_id == "broken":
        raise ValueError("no plan")
    if obs.nearby_resources:
        resource = obs.nearby_resources[0]
        reasoning = f"forage {resource.name} at tick {obs.tick}"
        if obs.custom.get("experiences"):
            reasoning += f" after {obs.custom['experiences'][0]['event_type']}"
        return Decision(tool="move_to", params={"target_position": list(resource.position)}, reasoning=reasoning)
    return Decision.idle()


if __name__ == "__main__":
    arena = AgentArena(host="127.0.0.1", port=5000)
    arena.run(decide)
