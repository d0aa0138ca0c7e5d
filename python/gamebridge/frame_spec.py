"""Frame specs: the byte layout of a lockstep game's frames and replies, as the
bridge declares it (``manifests/tempest.json``; agents get it in the
``registered`` answer and in ``GET /games`` as ``lockstep.frames``).

From one declaration this module builds numpy structured dtypes (so a frame is
read as named fields without copying), Gymnasium spaces, the reward and
termination of a frame, and replies from actions::

    spec = FrameSpec(client.games()["games"][0]["lockstep"]["frames"])
    record = spec.view(frame_bytes)          # zero-copy: record["score"], record["state"]
    spec.reward(record), spec.done(record)   # from the fields the spec names
    spec.reply({"fire": 1, "spinner": -3})   # 5 bytes, the rest from the default

numpy is needed (``pip install 'gamebridge[rl]'``); gymnasium only for the
spaces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

_KINDS = {
    "u8": "u1",
    "i8": "i1",
    "u16": "u2",
    "i16": "i2",
    "u32": "u4",
    "i32": "i4",
    "u64": "u8",
    "i64": "i8",
    "f32": "f4",
    "f64": "f8",
}


def _dtype(layout: Mapping[str, Any]) -> np.dtype:
    """A packed structured dtype: fields one after another, in the layout's byte order."""
    order = ">" if layout.get("endian") == "big" else "<"
    fields = []
    for field in layout["fields"]:
        kind = order + _KINDS[field["type"]]
        fields.append((field["name"], kind, (field["count"],)) if field.get("count") else (field["name"], kind))
    return np.dtype(fields)


class FrameSpec:
    """One game's frame spec (the JSON the bridge serves), with numpy views and spaces."""

    def __init__(self, spec: Mapping[str, Any]):
        self.spec = spec
        self.frame_dtype = _dtype(spec["frame"])
        self.reply_dtype = _dtype(spec["reply"])
        self.observation: str | None = spec.get("observation")
        self.reward_fields: list[str] = list(spec.get("reward", []))
        self.done_field: str | None = spec.get("done")
        reply_fields = [field["name"] for field in spec["reply"]["fields"]]
        self.action_fields: list[str] = list(spec.get("action") or reply_fields)
        self.hold_ms: int | None = spec.get("hold_ms")
        default = spec["reply"].get("default")
        self.default_reply = bytes.fromhex(default) if default else bytes(self.reply_dtype.itemsize)
        self._reply_fields = {field["name"]: field for field in spec["reply"]["fields"]}
        self._frame_fields = {field["name"]: field for field in spec["frame"]["fields"]}

    @property
    def frame_size(self) -> int:
        return self.frame_dtype.itemsize

    @property
    def reply_size(self) -> int:
        return self.reply_dtype.itemsize

    def view(self, frame: bytes | memoryview) -> np.void:
        """The frame as one record of named fields, over its bytes (no copy)."""
        return np.frombuffer(frame, self.frame_dtype, count=1)[0]

    def batch(self, frames: Sequence[bytes | memoryview]) -> np.ndarray:
        """Frames of one size as a structured array, one row per frame (one copy)."""
        return np.frombuffer(b"".join(frames), self.frame_dtype)

    def observe(self, records: np.ndarray | np.void) -> np.ndarray:
        """The observation field as native-endian float32 (what a network takes)."""
        if self.observation is None:
            raise ValueError("the frame spec names no observation field")
        return np.asarray(records[self.observation], dtype=np.float32)

    def reward(self, records: np.ndarray | np.void) -> np.ndarray | float:
        """The sum of the reward fields; 0 when the spec names none."""
        total = sum((np.asarray(records[name], dtype=np.float64) for name in self.reward_fields), np.float64(0))
        return float(total) if np.ndim(total) == 0 else total

    def done(self, records: np.ndarray | np.void) -> np.ndarray | bool:
        """Whether the episode ended, from the done field; never when the spec names none."""
        if self.done_field is None:
            return False if isinstance(records, np.void) else np.zeros(len(records), dtype=bool)
        value = np.asarray(records[self.done_field]) != 0
        return bool(value) if value.ndim == 0 else value

    def reply(self, action: Mapping[str, int] | Sequence[int] | np.ndarray) -> bytes:
        """A reply from the chosen fields (by name, or in ``action`` order); the
        rest of the reply keeps the default's bytes."""
        record = np.frombuffer(self.default_reply, self.reply_dtype, count=1).copy()
        values = action.items() if isinstance(action, Mapping) else zip(self.action_fields, action, strict=True)
        for name, value in values:
            record[name] = value
        return record.tobytes()

    def action_space(self):
        """``MultiDiscrete`` over the action fields' ``min``..``max``: an action is
        one value per field, each counted from the field's minimum."""
        from gymnasium import spaces

        return spaces.MultiDiscrete(np.array([self._span(name) for name in self.action_fields], dtype=np.int64))

    def action_reply(self, action: Sequence[int] | np.ndarray) -> bytes:
        """The reply for a ``MultiDiscrete`` action of :meth:`action_space`."""
        lows = [self._reply_fields[name].get("min", 0) for name in self.action_fields]
        return self.reply([int(low) + int(value) for low, value in zip(lows, action, strict=True)])

    def observation_space(self):
        """A float32 ``Box`` of the observation field's shape, bounded by its
        ``min``/``max`` when the spec gives them."""
        from gymnasium import spaces

        if self.observation is None:
            raise ValueError("the frame spec names no observation field")
        field = self._frame_fields[self.observation]
        low, high = field.get("min", -np.inf), field.get("max", np.inf)
        return spaces.Box(low, high, shape=(field.get("count", 1),), dtype=np.float32)

    def _span(self, name: str) -> int:
        field = self._reply_fields[name]
        if "min" not in field or "max" not in field:
            raise ValueError(f"the reply field {name!r} has no min and max: it cannot be an action")
        return int(field["max"]) - int(field["min"]) + 1
