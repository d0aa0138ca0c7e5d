"""Reinforcement-learning environments over games behind the bridge.

- :class:`LockstepEnv` / :class:`LockstepVectorEnv`: Gymnasium environments
  over the instances of a lockstep game (Tempest on MAME), with spaces from its
  frame spec (``gamebridge.envs.lockstep``).
- :class:`ArenaParallelEnv`: a PettingZoo ``ParallelEnv`` over Agent Arena
  ticks (``gamebridge.envs.arena``).
- :class:`TurnEnv`: a Gymnasium ``Env`` over a turn-based game's functions, a
  step ending on a turn event, for LLM-agent evaluation loops
  (``gamebridge.envs.turns``).

Names are imported on first use, so ``import gamebridge.envs`` needs none of
numpy, gymnasium or pettingzoo until an environment is asked for.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ArenaParallelEnv": ".arena",
    "LockstepEnv": ".lockstep",
    "LockstepVectorEnv": ".lockstep",
    "TurnEnv": ".turns",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gamebridge.envs' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
