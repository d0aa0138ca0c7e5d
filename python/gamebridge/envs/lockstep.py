"""Gymnasium environments over a lockstep game (Tempest on MAME): every
instance that connects to the bridge's listening game is an emulator the
learner steps.

    env = LockstepEnv("http://127.0.0.1:5000", "tempest")          # one instance
    envs = LockstepVectorEnv("http://127.0.0.1:5000", "tempest", 8)  # eight, batched

Spaces, reward and termination come from the game's frame spec (its manifest's
``frames``; the ``tempest`` profile has one built in): the observation is the
spec's ``observation`` field as float32, an action is one value per ``action``
field (``MultiDiscrete`` from each field's ``min``..``max``), the reward is the
sum of the ``reward`` fields and an episode ends when the ``done`` field is set.
The rest of each reply keeps the default's bytes (Tempest's game settings).

**The game does not wait for ever.** The Tempest script gives up on a reply
after 3.5 s, and the bridge answers a frame with the default reply when its
agent misses the step deadline. A learner pauses between steps (a training
update), so these environments register with ``hold``: the bridge waits up to
the profile's ``hold_ms`` (Tempest: 3 s) instead of the step deadline. A step
the learner still missed was played with the default reply: the next
observation's info says ``defaulted: True`` (in the vector env, per instance).

Frames arrive batched: the bridge sends the frames of every instance waiting at
once as one WebSocket message, so a vector step costs one round trip, not one
per instance.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ..agent import Agent, Frame
from ..frame_spec import FrameSpec
from ._background import BackgroundAgent

# ``gymnasium.make("gamebridge/Lockstep-v0", url=..., game=...)``. A live game
# is not deterministic: the same seed and actions do not replay an emulator.
ENV_ID = "gamebridge/Lockstep-v0"
if ENV_ID not in gym.registry:
    gym.register(ENV_ID, entry_point="gamebridge.envs.lockstep:LockstepEnv", nondeterministic=True)


def _ws_url(url: str) -> str:
    url = url.rstrip("/")
    if url.startswith(("ws://", "wss://")):
        return url if url.endswith("/agent") else url + "/agent"
    return url.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/agent"


@dataclass
class _Waiting:
    """An instance's frame, waiting for its reply."""

    frame: Frame
    reply: asyncio.Future
    arrived: float


class _Instances:
    """The bridge side: frames of every instance, as they arrive, and their
    replies. Each instance has at most one frame waiting (lockstep)."""

    def __init__(self, url: str, game: str | Sequence[str], *, token: str | None, hold: bool, connect_timeout: float):
        games = [game] if isinstance(game, str) else list(game)
        if not games:
            raise ValueError("name at least one game")
        self.game = ", ".join(games)
        self._changed = threading.Condition()
        self._waiting: dict[str, _Waiting] = {}
        self._defaulted: set[str] = set()
        self._stopped: BaseException | None = None
        self._default = b""
        agent = Agent(_ws_url(url), token=token)
        for name in games:
            agent.step(name, hold=hold)(self._on_frames)
        agent.on_step_default = self._on_default
        self._background = BackgroundAgent(agent, name=f"gamebridge-lockstep:{game}", on_stop=self._on_stop)
        self._background.start(connect_timeout)
        specs = [agent.lockstep.get(name, {}).get("frames") for name in games]
        missing = [name for name, frames in zip(games, specs, strict=True) if not frames]
        if missing:
            self.close()
            raise ValueError(
                f"the game {missing[0]!r} has no frame spec: serve it with a manifest that declares frames "
                "(the tempest profile has one), so the environment knows its spaces"
            )
        if any(frames != specs[0] for frames in specs):
            self.close()
            raise ValueError(f"the games {self.game} have different frame specs: one environment needs one")
        self.spec = FrameSpec(specs[0])
        self._default = self.spec.default_reply

    # -- the agent's thread --

    async def _on_frames(self, frames: Sequence[Frame]) -> list[bytes]:
        self._background.track()
        loop = asyncio.get_running_loop()
        replies = []
        with self._changed:
            for frame in frames:
                replaced = self._waiting.get(frame.game)
                if replaced is not None and not replaced.reply.done():
                    # The bridge gave that frame the default: its answer is moot.
                    replaced.reply.set_result(self._default)
                reply = loop.create_future()
                self._waiting[frame.game] = _Waiting(frame, reply, time.monotonic())
                replies.append(reply)
            self._changed.notify_all()
        return list(await asyncio.gather(*replies))

    def _on_default(self, notice: dict) -> None:
        with self._changed:
            self._defaulted.add(notice.get("game", ""))

    def _on_stop(self, failure: BaseException | None) -> None:
        with self._changed:
            self._stopped = failure or RuntimeError("the connection to the bridge ended")
            self._changed.notify_all()

    # -- the environment's thread --

    def answer(self, instance: str, reply: bytes) -> None:
        with self._changed:
            waiting = self._waiting.pop(instance, None)
        if waiting is not None:
            self._background.call_soon(_settle, waiting.reply, reply)

    def wait(self, instances: Sequence[str], timeout: float) -> dict[str, Frame]:
        """The next frame of each instance; ``TimeoutError`` naming those silent."""
        with self._changed:
            ready = self._changed.wait_for(
                lambda: self._stopped is not None or all(name in self._waiting for name in instances), timeout
            )
            self._raise_if_stopped()
            if not ready:
                silent = [name for name in instances if name not in self._waiting]
                raise TimeoutError(f"no frame from {', '.join(silent)} within {timeout:g} s")
            return {name: self._waiting[name].frame for name in instances}

    def wait_new(self, known: Sequence[str], timeout: float) -> str:
        """An instance with a frame waiting that is not in ``known``, the longest waiting first."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: self._stopped is not None or any(name not in known for name in self._waiting), timeout
            )
            self._raise_if_stopped()
            if not found:
                raise TimeoutError(f"no instance of {self.game!r} sent a frame within {timeout:g} s")
            spare = [(waiting.arrived, name) for name, waiting in self._waiting.items() if name not in known]
            return min(spare)[1]

    def waiting(self) -> set[str]:
        """The instances with a frame waiting."""
        with self._changed:
            return set(self._waiting)

    def take_defaulted(self, instance: str) -> bool:
        """Whether a frame of ``instance`` got the default since the last ask."""
        with self._changed:
            if instance in self._defaulted:
                self._defaulted.discard(instance)
                return True
            return False

    def close(self) -> None:
        with self._changed:
            waiting, self._waiting = list(self._waiting.values()), {}
        for item in waiting:
            self._background.call_soon(_settle, item.reply, self._default)
        self._background.close()

    def _raise_if_stopped(self) -> None:
        if self._stopped is not None:
            raise ConnectionError(f"the connection to the bridge ended: {self._stopped}") from self._stopped


def _settle(future: asyncio.Future, reply: bytes) -> None:
    if not future.done():
        future.set_result(reply)


def _info(frame: Frame, record: np.void, defaulted: bool) -> dict[str, Any]:
    return {"instance": frame.game, "seq": frame.seq, "defaulted": defaulted, "fields": record.copy()}


class LockstepEnv(gym.Env):
    """One instance of a lockstep game as a Gymnasium ``Env``.

    ``reset()`` waits for the next episode: the first frame of an instance
    that has just connected, or, mid-episode, the frame after the game's next
    ``done`` (the frames in between are answered with the default reply);
    ``reset(options={"wait_episode": False})`` takes the next frame as it is.
    ``instance`` picks an instance (``"tempest/2"``); by default the first one
    with a frame waiting.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        url: str = "http://127.0.0.1:5000",
        game: str = "tempest",
        *,
        instance: str | None = None,
        token: str | None = None,
        hold: bool = True,
        timeout: float = 30.0,
        connect_timeout: float = 30.0,
    ) -> None:
        self._instances = _Instances(url, game, token=token, hold=hold, connect_timeout=connect_timeout)
        if self.spec is None:  # made directly, not by gymnasium.make
            self.spec = gym.spec(ENV_ID)
        self.spec_frames = self._instances.spec
        self.observation_space = self.spec_frames.observation_space()
        self.action_space = self.spec_frames.action_space()
        self.instance = instance
        self._timeout = timeout
        self._episode_over = True  # no frame yet: the next one starts an episode
        self._answered = True

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        spec = self.spec_frames
        if self.instance is None:
            self.instance = self._instances.wait_new([], self._timeout)
        if not self._answered:
            wait_episode = (options or {}).get("wait_episode", True)
            while wait_episode and not self._episode_over:
                self._instances.answer(self.instance, spec.default_reply)
                self._episode_over = bool(spec.done(self._next_record()[1]))
            self._instances.answer(self.instance, spec.default_reply)
        frame, record = self._next_record()
        self._episode_over = bool(spec.done(record))
        self._answered = False
        return spec.observe(record), _info(frame, record, self._instances.take_defaulted(self.instance))

    def step(self, action):
        if self.instance is None or self._answered:
            raise gym.error.ResetNeeded("call reset() before step()")
        spec = self.spec_frames
        self._instances.answer(self.instance, spec.action_reply(action))
        frame, record = self._next_record()
        self._episode_over = bool(spec.done(record))
        info = _info(frame, record, self._instances.take_defaulted(self.instance))
        return spec.observe(record), float(spec.reward(record)), self._episode_over, False, info

    def close(self) -> None:
        self._instances.close()
        super().close()

    def _next_record(self) -> tuple[Frame, np.void]:
        frame = self._instances.wait([self.instance], self._timeout)[self.instance]
        return frame, self.spec_frames.view(frame.data)


class LockstepVectorEnv(VectorEnv):
    """``num_envs`` instances of a lockstep game as one Gymnasium ``VectorEnv``.
    ``game`` may name several games of the same frame spec (the emulators of
    several machines in a fleet, ``["tempest-1", "tempest-2"]``): their
    instances fill the slots alike.

    Instances take the slots in the order their first frames arrive. Episodes
    restart in the game itself, so autoreset is ``NEXT_STEP``: after a step
    that ended an instance's episode, the next step answers that instance's
    done frame with the default reply (its action is ignored) and returns the
    first frame of its new episode, reward 0. An instance that goes silent for
    ``replace_after`` seconds while another instance waits (an emulator that
    restarted) gives its slot to that instance: the slot's episode is
    ``truncated``. ``infos`` holds per slot ``instance``, ``seq`` and
    ``defaulted``.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        url: str = "http://127.0.0.1:5000",
        game: str | Sequence[str] = "tempest",
        num_envs: int = 1,
        *,
        token: str | None = None,
        hold: bool = True,
        timeout: float = 30.0,
        replace_after: float = 5.0,
        connect_timeout: float = 30.0,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, not {num_envs}")
        self._instances = _Instances(url, game, token=token, hold=hold, connect_timeout=connect_timeout)
        spec = self.spec_frames = self._instances.spec
        self.num_envs = num_envs
        self.single_observation_space = spec.observation_space()
        self.single_action_space = spec.action_space()
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._timeout = timeout
        self._replace_after = replace_after
        self._slots: list[str] = []
        self._restart = np.zeros(num_envs, dtype=bool)
        self._answered = True

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if not self._answered:
            for instance in self._slots:
                self._instances.answer(instance, self.spec_frames.default_reply)
        while len(self._slots) < self.num_envs:
            self._slots.append(self._instances.wait_new(self._slots, self._timeout))
        self._restart[:] = False
        observations, _, _, _, infos = self._gather()
        self._answered = False
        return observations, infos

    def step(self, actions):
        if self._answered:
            raise gym.error.ResetNeeded("call reset() before step()")
        spec = self.spec_frames
        for slot, instance in enumerate(self._slots):
            reply = spec.default_reply if self._restart[slot] else spec.action_reply(actions[slot])
            self._instances.answer(instance, reply)
        restarted = self._restart.copy()
        observations, rewards, terminations, truncations, infos = self._gather()
        rewards[restarted] = 0.0
        terminations[restarted] = False
        self._restart = terminations | truncations
        return observations, rewards, terminations, truncations, infos

    def close(self, **kwargs: Any) -> None:
        self._instances.close()

    def _gather(self):
        """Every slot's next frame, replacing instances that went silent."""
        spec = self.spec_frames
        truncations = np.zeros(self.num_envs, dtype=bool)
        deadline = time.monotonic() + self._timeout
        while True:
            wait = min(self._replace_after, max(deadline - time.monotonic(), 0.001))
            try:
                frames = self._instances.wait(self._slots, wait)
                break
            except TimeoutError:
                waiting = self._instances.waiting()
                spare = sorted(waiting - set(self._slots))
                silent = [slot for slot, name in enumerate(self._slots) if name not in waiting]
                for slot, instance in zip(silent, spare, strict=False):
                    self._slots[slot] = instance
                    truncations[slot] = True
                if time.monotonic() >= deadline and not spare:
                    raise
        ordered = [frames[name] for name in self._slots]
        records = spec.batch([frame.data for frame in ordered])
        rewards = np.asarray(spec.reward(records), dtype=np.float64).reshape(self.num_envs).copy()
        terminations = np.asarray(spec.done(records), dtype=bool).reshape(self.num_envs).copy()
        terminations &= ~truncations
        infos = {
            "instance": np.array([frame.game for frame in ordered]),
            "seq": np.array([frame.seq for frame in ordered], dtype=np.int64),
            "defaulted": np.array([self._instances.take_defaulted(frame.game) for frame in ordered]),
        }
        return spec.observe(records), rewards, terminations, truncations, infos
