"""Agent Arena perceptions as numbers, and named actions as decisions: what
:class:`~gamebridge.envs.arena.ArenaParallelEnv` observes and sends by
default, usable on their own (a policy outside an environment, a custom
``observe`` or ``act``).

A perception is one agent's view of one tick as the game sent it
(``nearby_resources`` and ``nearby_hazards`` at its top level, or in
``custom_data`` for the scene's V1 ticks); a decision is what the game is
answered for that agent, ``{tool, params, reasoning}``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

Perception = dict[str, Any]
"""One agent's view of one tick, as the game sent it (docs/AGENT_ARENA.md)."""

Decision = dict[str, Any]
"""What the game is answered for one agent: ``{tool, params, reasoning}``."""

OWN_FIELDS = 5
"""``x, y, z, health, energy`` at the start of the default observation."""

ITEM_FIELDS = 5
"""``present, dx, dy, dz, distance`` per nearby resource or hazard."""

FLEE_DISTANCE = 5.0
"""How far from a hazard ``flee_hazard`` goes, as the bridge's rules do."""

_FLOAT32_MAX = float(np.finfo(np.float32).max)


# -- perceptions as numbers -------------------------------------------------


def _number(value: Any, default: float = 0.0) -> float:
    """A finite float32-sized number from JSON, or ``default`` for anything
    else (``null``, text, ``NaN``, booleans): one odd field must not make an
    observation fall outside its space."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    try:
        number = float(value)
    except OverflowError:  # an integer past the float range
        number = math.copysign(math.inf, value)
    if math.isnan(number):
        return default
    return max(-_FLOAT32_MAX, min(_FLOAT32_MAX, number))


def _point(value: Any) -> tuple[float, float, float] | None:
    """``[x, y, z]`` (or ``{x, y, z}``) as three numbers; missing coordinates
    are 0, as the bridge reads them. ``None`` when there is no position."""
    if isinstance(value, Mapping):
        return (_number(value.get("x")), _number(value.get("y")), _number(value.get("z")))
    if isinstance(value, (list, tuple)):
        coords = [_number(coordinate) for coordinate in list(value)[:3]]
        coords += [0.0] * (3 - len(coords))
        return (coords[0], coords[1], coords[2])
    return None


def perception_field(perception: Mapping[str, Any], key: str) -> Any:
    """A field of the perception, at its top level (the SDK shape and
    ``/observe``) or in ``custom_data`` (the scene's V1 shape keeps
    ``nearby_resources`` and ``nearby_hazards`` there)."""
    value = perception.get(key)
    if value is None:
        custom = perception.get("custom_data")
        if isinstance(custom, Mapping):
            value = custom.get(key)
    return value


@dataclass(frozen=True)
class Nearby:
    """One nearby resource or hazard: its distance, position and raw entry."""

    distance: float
    position: tuple[float, float, float]
    item: Mapping[str, Any]


def nearby(perception: Mapping[str, Any], key: str) -> list[Nearby]:
    """The perception's ``key`` list (``nearby_resources``, ``nearby_hazards``),
    nearest first (the first of equals first, as the bridge's rules pick).

    An item's ``distance`` is its own field when that is a number, else the
    distance from the agent's position; an item without a position cannot be
    placed and is left out (it stays in the raw perception)."""
    items = perception_field(perception, key)
    if not isinstance(items, list):
        return []
    own = _point(perception.get("position")) or (0.0, 0.0, 0.0)
    found = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        position = _point(item.get("position"))
        if position is None:
            continue
        given = item.get("distance")
        if isinstance(given, (int, float)) and not isinstance(given, bool) and not math.isnan(given):
            distance = _number(given)
        else:
            distance = _number(math.dist(own, position))
        found.append(Nearby(max(distance, 0.0), position, item))
    found.sort(key=lambda each: each.distance)
    return found


def perception_space(nearest: int = 3) -> spaces.Box:
    """The space of :func:`encode_perception`: ``5 + 2 * nearest * 5`` float32s.

    Positions, health and energy are unbounded (games differ); the
    ``present`` flags are in [0, 1] and distances are at least 0."""
    size = OWN_FIELDS + 2 * nearest * ITEM_FIELDS
    low = np.full(size, -np.inf, dtype=np.float32)
    high = np.full(size, np.inf, dtype=np.float32)
    for start in range(OWN_FIELDS, size, ITEM_FIELDS):
        low[start], high[start] = 0.0, 1.0  # present
        low[start + 4] = 0.0  # distance
    return spaces.Box(low, high, dtype=np.float32)


def encode_perception(perception: Mapping[str, Any], nearest: int = 3) -> np.ndarray:
    """A perception as a fixed vector, the default observation:

    ``[x, y, z, health, energy]``, then the ``nearest`` nearest resources,
    then the ``nearest`` nearest hazards, each as ``[present, dx, dy, dz,
    distance]`` (its position relative to the agent's, so a policy learns
    "the resource is ahead" and not "the resource is at x = 12"). Slots with
    no item are all zeros, ``present`` saying so: an explicit mask rather than
    a made-up far distance. Missing or odd numbers are 0, so the vector is
    always inside :func:`perception_space`. The raw perception is in
    ``infos[agent]["perception"]`` for everything this leaves out."""
    own = _point(perception.get("position")) or (0.0, 0.0, 0.0)
    vector = np.zeros(OWN_FIELDS + 2 * nearest * ITEM_FIELDS, dtype=np.float32)
    vector[:OWN_FIELDS] = [*own, _number(perception.get("health")), _number(perception.get("energy"))]
    offset = OWN_FIELDS
    for key in ("nearby_resources", "nearby_hazards"):
        for slot, item in enumerate(nearby(perception, key)[:nearest]):
            start = offset + slot * ITEM_FIELDS
            relative = [_number(item.position[axis] - own[axis]) for axis in range(3)]
            vector[start : start + ITEM_FIELDS] = [1.0, *relative, item.distance]
        offset += nearest * ITEM_FIELDS
    return vector


def perception_reward(perception: Mapping[str, Any]) -> float:
    """The default reward: the perception's numeric ``reward`` field (top
    level or ``custom_data``), else 0. Agent Arena itself scores nothing, so
    a game that wants to train agents puts its reward into the perception,
    or the learner computes one (the ``reward`` option)."""
    value = perception_field(perception, "reward")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return _number(value)


# -- actions as decisions ---------------------------------------------------


def idle(reasoning: str) -> Decision:
    """Doing nothing this tick, and why."""
    return {"tool": "idle", "params": {}, "reasoning": reasoning}


def _kind(item: Mapping[str, Any], key: str, default: str) -> str:
    value = item.get(key)
    return default if value is None else str(value)


def move_to_resource(perception: Mapping[str, Any]) -> Decision:
    """``move_to`` the nearest resource, at the rules' speed 1.5; ``idle`` if none."""
    found = nearby(perception, "nearby_resources")
    if not found:
        return idle("No resource in sight")
    nearest = found[0]
    kind, name = _kind(nearest.item, "type", "unknown"), _kind(nearest.item, "name", "resource")
    return {
        "tool": "move_to",
        "params": {"target_position": list(nearest.position), "speed": 1.5},
        "reasoning": f"Moving to collect {kind} ({name}) at distance {nearest.distance:.1f}",
    }


def collect_resource(perception: Mapping[str, Any]) -> Decision:
    """``collect`` the nearest resource by its ``name``; ``idle`` if none or nameless."""
    found = nearby(perception, "nearby_resources")
    name = found[0].item.get("name") if found else None
    if not isinstance(name, str) or not name:
        return idle("No named resource in sight")
    return {"tool": "collect", "params": {"target": name}, "reasoning": f"Collecting {name}"}


def flee_hazard(perception: Mapping[str, Any]) -> Decision:
    """``move_to`` the point :data:`FLEE_DISTANCE` from the nearest hazard,
    on the ground-plane line from the hazard through the agent, at the
    agent's height, speed 2.0 (the bridge's rules; on top of the hazard,
    along x). ``idle`` if there is no hazard."""
    found = nearby(perception, "nearby_hazards")
    if not found:
        return idle("No hazard in sight")
    hazard = found[0]
    own = _point(perception.get("position")) or (0.0, 0.0, 0.0)
    dx, dz = own[0] - hazard.position[0], own[2] - hazard.position[2]
    length = math.hypot(dx, dz)
    dx, dz = (dx / length, dz / length) if length > 1e-9 else (1.0, 0.0)
    target = [hazard.position[0] + dx * FLEE_DISTANCE, own[1], hazard.position[2] + dz * FLEE_DISTANCE]
    kind = _kind(hazard.item, "type", "unknown")
    return {
        "tool": "move_to",
        "params": {"target_position": target, "speed": 2.0},
        "reasoning": f"Avoiding nearby {kind} hazard at distance {hazard.distance:.1f}",
    }


MACROS: dict[str, Callable[[Mapping[str, Any]], Decision]] = {
    "idle": lambda perception: idle("Chosen: idle"),
    "stop_movement": lambda perception: {"tool": "stop_movement", "params": {}, "reasoning": "Chosen: stop"},
    "move_to_resource": move_to_resource,
    "collect_resource": collect_resource,
    "flee_hazard": flee_hazard,
}
"""The named actions ``tools`` may list. Each is a decision made from the
agent's own perception, so a policy picks *what* to do and the target comes
from what the agent sees. A name not here is sent as that tool with no
parameters (``get_inventory``, or a tool the game registered)."""


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as JSON's numbers and lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def checked_decision(value: Any, agent: str) -> Decision:
    """A decision as the bridge reads it, or a clear error for the ``act`` that made it."""
    if not isinstance(value, Mapping) or not isinstance(value.get("tool"), str):
        raise TypeError(f"the decision for {agent!r} is not a {{tool, params, reasoning}} dict: {value!r}")
    params = value.get("params")
    return {
        "tool": value["tool"],
        "params": {} if params is None else _plain(params),
        "reasoning": str(value.get("reasoning") or ""),
    }
