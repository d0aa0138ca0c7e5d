"""The Python side of gamebridge, the bridge between running games and AI agents.

- :class:`Client` / :class:`AsyncClient`: every REST route; failures raise
  :class:`BridgeError` with the bridge's error code.
- :func:`events` / :func:`aevents`: the event stream, resumed after a drop.
- :class:`Agent`: agent functions, lockstep steps and Agent Arena decisions
  as decorated Python functions over the WebSocket API.

Names are imported on first use, so ``gamebridge-arena-agent`` needs only
``websockets``.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Agent": ".agent",
    "Frame": ".agent",
    "AsyncClient": ".client",
    "Client": ".client",
    "BridgeError": ".errors",
    "Event": ".event_stream",
    "aevents": ".event_stream",
    "events": ".event_stream",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gamebridge' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
