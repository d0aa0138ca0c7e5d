"""Agents as decorated Python functions, over the bridge's WebSocket agent API
(``/agent``): no webhook server to run.

    agent = Agent("ws://127.0.0.1:5000/agent")

    @agent.function("AnalyzeThreat", game="civ5")
    def analyze(args):                      # the game's external_call
        return {"threat": "low"}

    @agent.step("tempest")
    def act(frames):                        # one call per batch of instances' frames
        state = frames.records["state"]     # numpy (len(frames), 195), with the game's frame spec
        return [b"\\x01\\x00\\x00\\x01\\x0d" for frame in frames]

    @agent.decide("arena")
    def decide(tick, agents):               # one Agent Arena tick, every agent at once
        return {a["agent_id"]: {"tool": "idle"} for a in agents}

    agent.run()                             # or: await agent.run_async()

Handlers may be plain functions or coroutines. Plain ``function`` and
``decide`` handlers run in a worker thread, so a slow one (a model call) does
not stall the connection; ``step`` handlers run inline, as a step is the hot
path. A handler that raises answers the
call with an error (``AGENT_ERROR``); for frames, the game then gets the
profile's default reply. The agent reconnects by itself and registers again
when the bridge restarts.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_URL = "ws://127.0.0.1:5000/agent"
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
FRAMES, REPLIES = 1, 2


@dataclass(slots=True)
class Frame:
    """One lockstep frame: the instance it came from (``tempest/3``), its
    number on that connection, and its bytes (a view into the message: no copy)."""

    id: int
    game: str
    seq: int
    data: memoryview


class Frames(list):
    """The frames of one batch, in the order they are answered. With the game's
    frame spec (``spec``), ``records`` is the batch as a numpy structured array:
    ``frames.records["state"]`` is one row per frame."""

    def __init__(self, frames=(), spec=None):
        super().__init__(frames)
        self.spec = spec
        self._records = None

    @property
    def records(self):
        if self.spec is None:
            raise LookupError("the bridge sent no frame spec for this game: its manifest declares no frames")
        if self._records is None:
            self._records = self.spec.batch([frame.data for frame in self])
        return self._records


_COUNT = struct.Struct("<BH")
_FRAME_HEAD = struct.Struct("<QQH")
_FRAME_LEN = struct.Struct("<I")
_REPLY_HEAD = struct.Struct("<QI")
# Instance names as text, by their bytes: batches name the same instances again and again.
_NAMES: dict[bytes, str] = {}


def decode_frames(message: bytes) -> list[Frame]:
    """A frames message (docs/WEBSOCKET.md): ``u8 1, u16 count``, then per frame
    ``u64 id, u64 seq, u16 game_len, game, u32 frame_len, frame``, little-endian."""
    kind, count = _COUNT.unpack_from(message, 0)
    if kind != FRAMES:
        raise ValueError(f"not a frames message: kind {kind}")
    offset, frames = 3, []
    view = memoryview(message)
    head, length, names = _FRAME_HEAD.unpack_from, _FRAME_LEN.unpack_from, _NAMES
    for _ in range(count):
        frame_id, seq, game_len = head(message, offset)
        offset += 18
        name = message[offset : offset + game_len]
        game = names.get(name)
        if game is None:
            if len(names) >= 4096:  # instance numbers are reused; this only bounds odd bridges
                names.clear()
            game = names[name] = name.decode()
        offset += game_len
        (frame_len,) = length(message, offset)
        offset += 4
        frames.append(Frame(frame_id, game, seq, view[offset : offset + frame_len]))
        offset += frame_len
    return frames


def _reply_bytes(replies) -> list[bytes]:
    """A step handler's answer as one ``bytes`` per frame: a list of bytes, or a
    numpy array with one row per frame (structured, or of bytes)."""
    if hasattr(replies, "dtype") and hasattr(replies, "tobytes"):
        rows = replies.reshape(len(replies), -1) if replies.dtype.fields is None else replies
        size = rows.itemsize * (rows.shape[1] if rows.ndim > 1 else 1)
        packed = rows.tobytes()
        return [packed[at : at + size] for at in range(0, len(packed), size)]
    return [reply if type(reply) is bytes else bytes(reply) for reply in replies]


def encode_replies(replies: Sequence[tuple[int, bytes]]) -> bytes:
    """A replies message: ``u8 2, u16 count``, then per reply ``u64 id, u32 len, reply``."""
    pack = _REPLY_HEAD.pack
    parts = [_COUNT.pack(REPLIES, len(replies))]
    for frame_id, reply in replies:
        parts.append(pack(frame_id, len(reply)))
        parts.append(reply)
    return b"".join(parts)


@dataclass
class _Registration:
    game: str | None
    name: str
    handler: Callable[..., Any]
    timeout_ms: int | None = None
    description: str | None = None
    hold: bool = False


class Agent:
    """One WebSocket connection to the bridge, serving the functions decorated on it."""

    def __init__(self, url: str = DEFAULT_URL, *, token: str | None = None, batch: dict | None = None):
        self.url = url
        self.token = token
        self.batch = batch
        self.registrations: list[_Registration] = []
        # What the bridge said of each stepped game: frame spec, deadline, hold bound.
        self.lockstep: dict[str, dict] = {}
        self._specs: dict[str, Any] = {}
        # What the bridge said about frames it answered with the default.
        self.on_step_default: Callable[[dict], Any] | None = None

    def function(self, name: str, *, game: str | None = None, timeout_ms: int | None = None, description=None):
        """A JSON function the game calls (``external_call``): ``handler(args) -> result``."""

        def register(handler):
            self.registrations.append(_Registration(game, name, handler, timeout_ms, description))
            return handler

        return register

    def step(self, game: str, *, timeout_ms: int | None = None, hold: bool = False):
        """Lockstep frames of ``game`` and all its instances: ``handler(frames) -> replies``,
        :class:`Frames` in, one ``bytes`` reply per frame out, in order (or a numpy
        array with one row per frame). ``hold``: the bridge waits for this agent up
        to the game's hold bound, not its step deadline (a learner that trains
        between steps)."""

        def register(handler):
            self.registrations.append(_Registration(game, "step", handler, timeout_ms, hold=hold))
            return handler

        return register

    def decide(self, game: str, *, timeout_ms: int | None = 25_000):
        """Agent Arena ticks: ``handler(tick, agents) -> {agent_id: {tool, params, reasoning}}``,
        where ``agents`` is ``[{agent_id, observation, experiences?}]``. ``timeout_ms``
        defaults to the arena's own decide deadline (25 s)."""

        def adapt(handler):
            async def decide_tick(args):
                decided = await _run(handler, args.get("tick", 0), args.get("agents", []))
                return {"actions": [{"agent_id": agent_id, **action} for agent_id, action in decided.items()]}

            self.registrations.append(_Registration(game, "decide", decide_tick, timeout_ms))
            return handler

        return adapt

    def run(self) -> None:
        """Serves until interrupted (Ctrl-C)."""
        try:
            asyncio.run(self.run_async())
        except KeyboardInterrupt:
            pass

    async def run_async(self, *, ready: asyncio.Event | None = None) -> None:
        """Serves for ever, reconnecting; ``ready`` is set once every function is registered."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        failures = 0
        while True:
            try:
                async with connect(self.url, additional_headers=headers, max_size=None) as socket:
                    failures = 0
                    await self._serve(socket, ready)
            except (OSError, ConnectionClosed, InvalidHandshake) as error:
                wait = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                print(f"gamebridge agent: no bridge at {self.url} ({error}); again in {wait} s", file=sys.stderr)
                await asyncio.sleep(wait)

    def _register_messages(self) -> list[dict[str, Any]]:
        """One ``register`` message per game, with its functions."""
        by_game: dict[str | None, list[_Registration]] = {}
        for registration in self.registrations:
            by_game.setdefault(registration.game, []).append(registration)
        messages = []
        for game, registrations in by_game.items():
            functions = []
            for registration in registrations:
                spec: dict[str, Any] = {"name": registration.name}
                if registration.timeout_ms is not None:
                    spec["timeout_ms"] = registration.timeout_ms
                if registration.description is not None:
                    spec["description"] = registration.description
                if registration.hold:
                    spec["hold"] = True
                functions.append(spec)
            message: dict[str, Any] = {"type": "register", "functions": functions}
            if game is not None:
                message["game"] = game
            if self.batch is not None:
                message["batch"] = self.batch
            messages.append(message)
        return messages

    async def _serve(self, socket, ready: asyncio.Event | None) -> None:
        """Registers game by game, then answers until the connection drops.
        Frames and calls of the games registered first are answered while the
        later registrations are under way."""
        self._specs.clear()
        handlers = {(r.game, r.name): r.handler for r in self.registrations}
        steppers = {r.game: r.handler for r in self.registrations if r.name == "step"}
        tasks: set[asyncio.Task] = set()

        def dispatch(message) -> dict | None:
            """Starts answering one message; returns the text messages that are not calls."""
            if isinstance(message, bytes):
                work = self._step(socket, steppers, decode_frames(message))
            else:
                call = json.loads(message)
                if call.get("type") == "step_default" and self.on_step_default is not None:
                    work = _run(self.on_step_default, call)
                elif call.get("type") == "call":
                    function = call["function"]
                    handler = handlers.get((call.get("game"), function)) or handlers.get((None, function))
                    work = self._answer(socket, handler, call)
                else:
                    return call
            task = asyncio.create_task(work)
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            return None

        messages = aiter(socket)
        try:
            for register in self._register_messages():
                await socket.send(json.dumps(register))
                answer = None
                while answer is None or answer.get("type") not in ("registered", "error"):
                    answer = dispatch(await anext(messages))
                if answer["type"] == "error":
                    # A game that is not served (yet): the other registrations still count.
                    game = register.get("game", "the only game")
                    print(f"gamebridge agent: the bridge refused {game}: {answer.get('message')}", file=sys.stderr)
                elif "lockstep" in answer:
                    self.lockstep[answer["game"]] = answer["lockstep"]
            if ready is not None:
                ready.set()
            async for message in messages:
                dispatch(message)
        finally:
            # The bridge failed the calls in flight when the connection dropped:
            # their answers have nowhere to go.
            for task in tasks:
                task.cancel()

    async def _answer(self, socket, handler, call: dict) -> None:
        try:
            if handler is None:
                raise LookupError(f"no handler for {call['function']}")
            result = await _run(handler, call.get("args"))
            answer = {"type": "result", "id": call["id"], "success": True, "result": result}
        except Exception as error:  # noqa: BLE001 - the caller gets the failure, the agent goes on
            failure = {"code": "AGENT_ERROR", "message": f"{type(error).__name__}: {error}"}
            answer = {"type": "result", "id": call["id"], "success": False, "error": failure}
        await _send(socket, json.dumps(answer))

    async def _step(self, socket, steppers: dict, frames: list[Frame]) -> None:
        # Frames of one batch may come from instances of one listening game.
        by_game: dict[str, Frames] = {}
        for frame in frames:
            game = frame.game if frame.game in steppers else frame.game.split("/")[0]
            if game not in by_game:
                by_game[game] = Frames(spec=self._frame_spec(game))
            by_game[game].append(frame)
        if len(by_game) == 1:
            replies = await self._step_game(steppers, *next(iter(by_game.items())))
        else:
            # Each game's handler on its own: one that waits for another
            # game's frames (an environment over several games) must not
            # keep them from it.
            answered = await asyncio.gather(*(self._step_game(steppers, *item) for item in by_game.items()))
            replies = [reply for part in answered for reply in part]
        if replies:
            await _send(socket, encode_replies(replies))

    async def _step_game(self, steppers: dict, game: str, batch: Frames) -> list[tuple[int, bytes]]:
        """One game's frames of a batch: ``(frame id, reply)`` for each frame answered."""
        handler = steppers.get(game)
        if handler is None:
            return []
        try:
            # Inline, not in a thread: a step is a hot path, and a batch
            # is answered as a whole anyway.
            answered = handler(batch)
            if inspect.isawaitable(answered):
                answered = await answered
            answered = _reply_bytes(answered)
        except Exception as error:  # noqa: BLE001 - the game gets its default reply
            print(f"gamebridge agent: the step handler failed: {error!r}", file=sys.stderr)
            return []
        # A frame left without a reply gets the game's default at its deadline.
        return [(frame.id, reply) for frame, reply in zip(batch, answered, strict=False)]

    def _frame_spec(self, game: str):
        """The game's :class:`~gamebridge.frame_spec.FrameSpec`, when the bridge
        sent one and numpy is installed."""
        spec = self._specs.get(game)
        if spec is None and game not in self._specs:
            frames = self.lockstep.get(game, {}).get("frames")
            try:
                from .frame_spec import FrameSpec
            except ImportError:  # numpy is an extra: without it, frames are bytes
                frames = None
            spec = self._specs[game] = FrameSpec(frames) if frames else None
        return spec


async def _run(handler: Callable[..., Any], *args: Any) -> Any:
    """A handler's result: awaited if it is a coroutine function, else run in a
    worker thread (and awaited if it returned an awaitable, as an object with
    an async ``__call__`` does)."""
    if inspect.iscoroutinefunction(handler):
        return await handler(*args)
    result = await asyncio.to_thread(handler, *args)
    return await result if inspect.isawaitable(result) else result


async def _send(socket, message: str | bytes) -> None:
    """Sends an answer; one whose connection dropped meanwhile is dropped too
    (the bridge already failed that call, and the agent reconnects)."""
    try:
        await socket.send(message)
    except _connection_closed():
        pass


@functools.cache
def _connection_closed() -> type[Exception]:
    """websockets' ``ConnectionClosed``, imported once: websockets is imported
    on first connection, so that the codec functions need it not."""
    from websockets.exceptions import ConnectionClosed

    return ConnectionClosed
