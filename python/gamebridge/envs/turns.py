"""A turn-based Gymnasium environment over game functions, for LLM-agent
evaluation loops (Vox Deorum's Civilization V, Transport Fever 2, the demo).

One step is one turn: the action is a call of game functions (or several, run
as one ``batch``), then the step waits for the game's turn event (``end_on``,
``PlayerDoTurn`` in Vox Deorum, ``TurnStart`` in ``gamebridge demo``), then
observes by calling a chosen game function.

    env = TurnEnv("http://127.0.0.1:5000", "demo", observe="GetUnits", end_on="TurnStart", timeout=30)
    text, info = env.reset()
    text, reward, terminated, truncated, info = env.step(
        [{"function": "MoveUnit", "args": [1, 3, 3]}, {"function": "EndTurn"}]
    )
    info["results"]  # each call's result or error code, in order
    info["event"]  # the TurnStart that ended the step

Observations are JSON text (``spaces.Text``) because an LLM reads text; the
same value, parsed, is ``info["observation"]``, and is what ``reward`` and
``done`` receive. A call the game refuses is no exception: its error code and
message are in ``info["results"]``, as the agent needs them to correct
itself. Only what the environment itself needs (observing, the event stream,
the bridge being there) raises.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import httpx
from gymnasium import spaces

from ..client import Client
from ..errors import BridgeError, unwrap
from ..event_stream import Event, _Position

VOX_DEORUM_TURN_EVENT = "PlayerDoTurn"
"""The event the Vox Deorum DLL sends when a player's turn starts (payload ``{"PlayerID": n}``)."""

DEMO_TURN_EVENT = "TurnStart"
"""The event ``gamebridge demo`` sends after ``EndTurn`` (payload ``{"turn": n}``)."""

INVALID_ACTION = "INVALID_ACTION"
"""The code in ``info["action_error"]`` for an action that is not a call: nothing was sent."""

# JSON written with ensure_ascii and the default separators uses only these
# characters, so every observation is a member of the observation space.
OBSERVATION_CHARSET = "".join(chr(code) for code in range(0x20, 0x7F))
# Actions are JSON an agent wrote, perhaps pretty-printed.
ACTION_CHARSET = OBSERVATION_CHARSET + "\t\n\r"

Observe = str | tuple[str, dict | list] | Callable[[Client], Any]
Call = dict[str, Any]


class TurnEnv(gym.Env[str, Any]):
    """A turn-based game behind the bridge as a ``gymnasium.Env``.

    - ``game``: the game's name on the bridge (``None`` on a bridge with one
      game: the unprefixed routes, events of every game).
    - ``observe``: what the agent sees. A game function's name (called
      without arguments), ``(name, args)`` with args a list (positional) or a
      dict (named), or a callable that receives the :class:`Client` and
      returns a JSON value (to combine several calls).
    - ``end_on``: the event type(s) that end a step. ``end_if`` narrows them
      with a predicate on the :class:`Event`, e.g. only your player's turn in
      Civ V: ``end_if=lambda event: event.payload["PlayerID"] == 0``.
    - ``collect``: further event types to report in ``info["events"]``
      (what happened during the turn: ``UnitMoved``, ``CityCaptured``…).
    - ``timeout``: seconds a step (or ``reset(options={"wait_turn": True})``)
      waits for the event; then the step ends with ``truncated=True`` and
      ``info["timed_out"] = True``. It returns rather than raises so that an
      evaluation loop records the turn that never came as the end of an
      episode, not a crash; stepping on after it is allowed (the event may
      still come, and ends the next step if it comes after that step's calls).
    - ``call_timeout_ms``: the bridge's deadline for each game call.
    - ``reward(previous, observation, info) -> float`` (default 0.0) and
      ``done(observation, info) -> bool`` (default False) get parsed JSON
      values; ``max_turns`` truncates the episode after that many steps.
    - ``max_text_length``: the spaces' ``max_length``. An observation longer
      than that is still returned whole, never cut: a cut JSON text is
      useless to an agent.

    A step's ``info``: ``observation`` (the parsed observation), ``results``
    (per call: ``{"function", "success": True, "result"}`` or ``{"function",
    "success": False, "error": {"code", "message"}}``), ``action_error``
    (``None``, or ``{"code": "INVALID_ACTION", "message"}`` when the action
    was not a call, in which case nothing was sent and the step does not
    wait), ``event`` (the event that ended the step, ``{"seq", "type",
    "payload", …}``, or ``None``), ``events`` (every ``end_on`` or
    ``collect`` event since the previous step, up to ``event``),
    ``timed_out``, ``waited`` (seconds), ``step`` (steps since reset) and
    ``notices`` (the stream's ``lagged`` / ``reset`` notices, if any).
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        url: str,
        game: str | None,
        *,
        observe: Observe,
        end_on: str | Sequence[str] = VOX_DEORUM_TURN_EVENT,
        end_if: Callable[[Event], bool] | None = None,
        collect: Sequence[str] = (),
        token: str | None = None,
        timeout: float = 300.0,
        call_timeout_ms: int | None = None,
        reward: Callable[[Any, Any, dict], float] | None = None,
        done: Callable[[Any, dict], bool] | None = None,
        max_turns: int | None = None,
        max_text_length: int = 1 << 24,
        render_mode: str | None = None,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} is not one of {self.metadata['render_modes']}")
        if timeout <= 0:
            raise ValueError("timeout must be positive: a step never waits for ever")
        self.url = url.rstrip("/")
        self.game = game
        self.token = token
        self.observe_with = observe
        self.end_on = (end_on,) if isinstance(end_on, str) else tuple(end_on)
        if not self.end_on:
            raise ValueError("end_on names no event")
        self.end_if = end_if
        self.collect = tuple(collect)
        self.timeout = timeout
        self.call_timeout_ms = call_timeout_ms
        self.reward_fn = reward
        self.done_fn = done
        self.max_turns = max_turns
        self.render_mode = render_mode
        self.observation_space = spaces.Text(max_text_length, min_length=1, charset=OBSERVATION_CHARSET)
        self.action_space = spaces.Text(max_text_length, min_length=0, charset=ACTION_CHARSET)
        self.client = Client(self.url, token=token, game=game)
        self._reader: _EventReader | None = None
        self._observation: Any = None
        self._text = ""
        self._steps = 0
        # Events up to this sequence number are before the current step (or
        # the reset), so they cannot end it / have already been reported.
        self._reported = 0

    # -- Gymnasium --------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Observes without acting. With ``options={"wait_turn": True}`` it
        first waits (up to ``timeout``) for the next turn event, so that the
        agent starts at the beginning of a turn; ``info["timed_out"]`` says
        whether it came."""
        super().reset(seed=seed)
        if self._reader is None:
            # Subscribed from here on: no event after this point can be missed.
            self._reader = _EventReader(self.url, self.end_on + self.collect, self.game, self.token, self._latest())
        self._reported = self._latest()
        self._steps = 0
        info: dict[str, Any] = {"event": None, "events": [], "timed_out": False, "waited": 0.0, "notices": []}
        if options and options.get("wait_turn"):
            info.update(self._wait(self._reported))
        self._observation = self._observe()
        self._text = _text(self._observation)
        info["observation"] = self._observation
        return self._text, info

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Runs the action's calls, waits for the turn event that follows
        them, observes. See the class for what ``info`` holds."""
        if self._reader is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        info: dict[str, Any] = {
            "results": [],
            "action_error": None,
            "event": None,
            "events": [],
            "timed_out": False,
            "waited": 0.0,
            "notices": [],
        }
        try:
            calls = parse_action(action)
        except ValueError as error:
            info["action_error"] = {"code": INVALID_ACTION, "message": str(error)}
            calls = None
        if calls is not None:
            # Only an event after this point can be the one the calls cause.
            mark = self._latest()
            info["results"] = self._run(calls)
            info.update(self._wait(mark))
        self._steps += 1
        info["step"] = self._steps
        previous = self._observation
        self._observation = self._observe()
        self._text = _text(self._observation)
        info["observation"] = self._observation
        reward = float(self.reward_fn(previous, self._observation, info)) if self.reward_fn else 0.0
        terminated = bool(self.done_fn(self._observation, info)) if self.done_fn else False
        truncated = info["timed_out"] or (self.max_turns is not None and self._steps >= self.max_turns)
        return self._text, reward, terminated, truncated, info

    def render(self) -> str | None:
        """The latest observation's JSON text (``render_mode="ansi"``)."""
        return self._text if self.render_mode == "ansi" else None

    def close(self) -> None:
        """Stops the event reader and closes the client; safe to call twice."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.client.close()
        super().close()

    # -- The bridge -------------------------------------------------------

    def _latest(self) -> int:
        """The bridge's newest event sequence number: a step's start mark."""
        return int(self.client.send(("GET", "/events/history?limit=1", None))["latest"])

    def _observe(self) -> Any:
        """The observation, parsed. A failure raises: without an observation
        there is nothing to give the agent."""
        observe = self.observe_with
        if callable(observe):
            return observe(self.client)
        name, args = (observe, None) if isinstance(observe, str) else observe
        return self.client.send(self._call_request(name, args))

    def _call_request(self, function: str, args: Any) -> tuple[str, str, Any]:
        body: dict[str, Any] = {"function": function}
        if args is not None:
            body["args"] = args
        if self.call_timeout_ms is not None:
            body["timeout_ms"] = self.call_timeout_ms
        return "POST", self.client.routes.path("/lua/call"), body

    def _run(self, calls: list[Call]) -> list[dict[str, Any]]:
        """Each call's outcome. The game's refusals (and the bridge's, such as
        ``INVALID_ARGUMENTS`` or ``TOO_MANY_CALLS``) are outcomes, not
        exceptions; a bridge that cannot be reached still raises."""
        if not calls:
            return []
        if len(calls) == 1:
            call = calls[0]
            try:
                result = self.client.send(self._call_request(call["function"], call.get("args")))
            except BridgeError as error:
                return [_failure(call["function"], error)]
            return [{"function": call["function"], "success": True, "result": result}]
        try:
            envelopes = self.client.batch(calls, timeout_ms=self.call_timeout_ms)
        except BridgeError as error:
            return [_failure(call["function"], error) for call in calls]
        outcomes = []
        missing = {"success": False, "error": {"code": "UNKNOWN", "message": "the bridge answered no result for it"}}
        for index, call in enumerate(calls):
            envelope = envelopes[index] if index < len(envelopes) else missing
            if envelope.get("success") is False:
                error = envelope.get("error")
                error = error if isinstance(error, dict) else {"code": "UNKNOWN", "message": str(error)}
                outcomes.append({"function": call["function"], "success": False, "error": error})
            else:
                outcomes.append({"function": call["function"], "success": True, "result": envelope.get("result")})
        return outcomes

    def _wait(self, mark: int) -> dict[str, Any]:
        """Waits up to ``timeout`` for an ``end_on`` event after ``mark``;
        reports every event read on the way that the previous step did not."""
        assert self._reader is not None
        started = time.monotonic()
        deadline = started + self.timeout
        found: dict[str, Any] = {"event": None, "events": [], "timed_out": True, "notices": []}
        while True:
            event = self._reader.next(deadline)
            if event is None:
                break
            if event.name != "message":
                found["notices"].append({"name": event.name, "data": event.data})
                if event.name == "reset":
                    # The bridge restarted and numbers events from 1 again.
                    mark = self._reported = 0
                continue
            if event.seq is None or event.seq <= self._reported:
                continue
            self._reported = event.seq
            record = _record(event)
            found["events"].append(record)
            if event.seq > mark and event.type in self.end_on and (self.end_if is None or self.end_if(event)):
                found.update(event=record, timed_out=False)
                break
        found["waited"] = time.monotonic() - started
        return found


def parse_action(action: Any) -> list[Call]:
    """The calls an action asks for: ``{"function": name, "args": [...] |
    {...}}``, a list of those, ``None`` or ``[]`` (no call: just wait for the
    turn), or the JSON text of any of them. Raises ``ValueError`` saying what
    is wrong, in words an agent can act on."""
    if isinstance(action, (str, bytes)):
        try:
            action = json.loads(action)
        except ValueError as error:
            raise ValueError(f"the action is not JSON ({error})") from None
    if action is None:
        return []
    items = action if isinstance(action, list) else [action]
    calls = []
    for index, item in enumerate(items):
        where = f"call {index}" if isinstance(action, list) else "the action"
        if not isinstance(item, dict):
            raise ValueError(f'{where} is not an object like {{"function": "Name", "args": [...]}}')
        unknown = sorted(set(item) - {"function", "args"})
        if unknown:
            raise ValueError(f'{where} has unknown keys {unknown}: a call has only "function" and "args"')
        function = item.get("function")
        if not isinstance(function, str) or not function:
            raise ValueError(f'{where} needs "function": the name of a game function')
        call: Call = {"function": function}
        if "args" in item and item["args"] is not None:
            call["args"] = item["args"]
        calls.append(call)
    return calls


def _failure(function: str, error: BridgeError) -> dict[str, Any]:
    failure: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.details is not None:
        failure["details"] = error.details
    return {"function": function, "success": False, "error": failure}


def _record(event: Event) -> dict[str, Any]:
    """An event as ``info`` carries it: the bridge's sequence number, then
    what the game sent (``id``, ``type``, ``payload``, …)."""
    data = event.data if isinstance(event.data, dict) else {"data": event.data}
    return {"seq": event.seq, **data}


def _text(value: Any) -> str:
    """JSON text in :data:`OBSERVATION_CHARSET`: non-ASCII characters are
    escaped, so the text is always in the observation space."""
    return json.dumps(value, ensure_ascii=True)


class _EventReader:
    """The event stream read on a thread into a queue, from a sequence number
    on, so that a step can wait for an event with a deadline (the iterator of
    :mod:`gamebridge.event_stream` blocks until an event comes) and no event
    is missed between steps: the stream stays open, and a dropped connection
    resumes by ``Last-Event-ID``. ``close()`` wakes the thread by shutting
    its socket down."""

    def __init__(self, url: str, types: Sequence[str], game: str | None, token: str | None, since: int):
        self.position = _Position(url, types, game, token, since, pings=False)
        self.events: queue.Queue[Event | None] = queue.Queue()
        self.error: BaseException | None = None
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.socket: socket.socket | None = None
        self.thread = threading.Thread(target=self._run, name="gamebridge-turn-events", daemon=True)
        self.thread.start()

    def next(self, deadline: float) -> Event | None:
        """The next event, or ``None`` once ``deadline`` (monotonic) passes.
        Raises what stopped the reader for good (a refused token, say)."""
        if self.error is not None:
            raise self.error
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            event = self.events.get(timeout=remaining)
        except queue.Empty:
            return None
        if event is None:
            assert self.error is not None
            raise self.error
        return event

    def close(self) -> None:
        self.stopping.set()
        with self.lock:
            if self.socket is not None:
                try:
                    self.socket.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.thread.join(5.0)

    def _run(self) -> None:
        try:
            with httpx.Client(timeout=httpx.Timeout(10.0, read=30.0)) as http:
                while not self.stopping.is_set():
                    self._connect_once(http)
                    self.stopping.wait(self.position.wait())
        except Exception as error:  # handed to the waiting step, which raises it
            self.error = error
            self.events.put(None)

    def _connect_once(self, http: httpx.Client) -> None:
        url, query, headers = self.position.connecting()
        try:
            with http.stream("GET", url, params=query, headers=headers) as response:
                with self.lock:
                    stream = response.extensions.get("network_stream")
                    self.socket = stream.get_extra_info("socket") if stream is not None else None
                if self.stopping.is_set():
                    return
                if 400 <= response.status_code < 500:
                    # A refused token or a wrong address does not heal by retrying.
                    response.read()
                    try:
                        unwrap(response.status_code, response.json())
                    except ValueError:
                        pass
                    raise BridgeError(f"HTTP_{response.status_code}", response.text, response.status_code)
                response.raise_for_status()
                for line in response.iter_lines():
                    if self.stopping.is_set():
                        return
                    event = self.position.feed(line)
                    if event is not None:
                        self.events.put(event)
        except (httpx.TransportError, httpx.HTTPStatusError, OSError):
            pass  # reconnect, from the last event seen
        finally:
            with self.lock:
                self.socket = None
