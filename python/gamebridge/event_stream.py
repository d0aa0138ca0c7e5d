"""The bridge's event stream (Server-Sent Events) as an iterator that does not
lose events when the connection drops: it reconnects with ``Last-Event-ID``,
and the bridge replays what came in between. Notices the bridge sends for a
gap it can no longer fill (``lagged``) and for a position it does not know
(``reset``) arrive as events like any other.

    for event in events("http://127.0.0.1:5000", types=["TurnStart"]):
        print(event.seq, event.type, event.data)

:meth:`EventStream.close` ends an iteration from any thread (or leave a
``with events(...) as stream:`` block).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from .errors import unwrap

# Waits between reconnections; the last repeats.
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass
class Event:
    """One event: the bridge's sequence number, its SSE name, and its data.

    For game events (``name == "message"``) ``type`` is the game's event name,
    ``game`` the game it came from (when there are several), ``payload`` what
    the game sent.
    """

    seq: int | None
    name: str
    data: Any

    @property
    def type(self) -> str | None:
        return self.data.get("type") if isinstance(self.data, dict) else None

    @property
    def game(self) -> str | None:
        return self.data.get("game") if isinstance(self.data, dict) else None

    @property
    def payload(self) -> Any:
        return self.data.get("payload") if isinstance(self.data, dict) else None


class _Parser:
    """Server-Sent Events, line by line; yields events that carry data."""

    def __init__(self) -> None:
        self.name, self.seq, self.data = "message", None, []

    def feed(self, line: str) -> Event | None:
        if line == "":
            event = None
            if self.data:
                text = "\n".join(self.data)
                try:
                    data = json.loads(text)
                except ValueError:
                    data = text
                event = Event(self.seq, self.name, data)
            self.name, self.data = "message", []
            return event
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            self.name = value
        elif field == "data":
            self.data.append(value)
        elif field == "id" and value.isdigit():
            self.seq = int(value)
        return None


class _Position:
    """Where a stream stands across reconnections: the last sequence number
    seen (sent as ``Last-Event-ID`` on the next connection), and failures in
    a row (for the wait before the next)."""

    def __init__(self, url: str, types: Sequence[str], game: str | None, token: str | None, since: int, pings: bool):
        self.url = f"{url.rstrip('/')}/events"
        self.query: dict[str, str] = {}
        if types:
            self.query["types"] = ",".join(types)
        if game:
            self.query["game"] = game
        self.token, self.last, self.pings, self.failures = token, since, pings, 0
        self.parser = _Parser()

    def connecting(self) -> tuple[str, dict, dict]:
        """The stream's URL, query and headers for the next connection."""
        self.parser = _Parser()
        return self.url, self.query, _headers(self.token, self.last)

    def feed(self, line: str) -> Event | None:
        """The event a line completes, if the caller wants it."""
        event = self.parser.feed(line)
        if event is None:
            return None
        self.failures = 0
        if event.seq is not None:
            self.last = event.seq
        return event if self.pings or event.name not in ("connected", "ping") else None

    def wait(self) -> float:
        """Seconds to wait before connecting again."""
        self.failures += 1
        return RETRY_SECONDS[min(self.failures - 1, len(RETRY_SECONDS) - 1)]


def _headers(token: str | None, last: int | None) -> dict:
    headers = {"Accept": "text/event-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if last is not None:
        headers["Last-Event-ID"] = str(last)
    return headers


def _latest(history: httpx.Response) -> int:
    """The newest sequence number in a ``/events/history`` answer; a refusal
    (a wrong token, say) raises :class:`BridgeError` with the bridge's code."""
    try:
        body = history.json()
    except ValueError:
        body = history.text
    return int(unwrap(history.status_code, body)["latest"])


def latest(url: str, token: str | None = None) -> int:
    """The sequence number of the newest event the bridge has."""
    return _latest(httpx.get(f"{url.rstrip('/')}/events/history", params={"limit": "1"}, headers=_headers(token, None)))


class EventStream(Iterator[Event]):
    """The events of :func:`events`, for ever. :meth:`close`, from any
    thread, ends the iteration: a read waiting for the next event is woken
    (its socket shut down), and the wait before a reconnection cut short."""

    def __init__(self, position: _Position) -> None:
        self._position = position
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._response: httpx.Response | None = None
        self._iterator = self._events()

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> Event:
        return next(self._iterator)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            response = self._response
        if response is not None:
            _wake(response)
        try:
            self._iterator.close()
        except ValueError:
            pass  # it is running in another thread, which now sees the stream closed

    def _events(self) -> Iterator[Event]:
        position = self._position
        with httpx.Client(timeout=httpx.Timeout(10.0, read=30.0)) as http:
            while not self._closed.is_set():
                url, query, headers = position.connecting()
                try:
                    with http.stream("GET", url, params=query, headers=headers) as response:
                        with self._lock:
                            self._response = response
                        response.raise_for_status()
                        for line in response.iter_lines():
                            if self._closed.is_set():
                                return
                            if (event := position.feed(line)) is not None:
                                yield event
                except (httpx.TransportError, httpx.HTTPStatusError):
                    pass
                finally:
                    with self._lock:
                        self._response = None
                self._closed.wait(position.wait())


def _wake(response: httpx.Response) -> None:
    """Unblocks a read of ``response`` in another thread. Shutting its socket
    down does; closing it would not (on Linux the blocked read goes on)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed


def events(
    url: str,
    *,
    types: Sequence[str] = (),
    game: str | None = None,
    since: int | None = None,
    token: str | None = None,
    pings: bool = False,
) -> EventStream:
    """Every event after sequence number ``since`` (by default: after the
    newest when this is called), for ever; reconnects by itself, asking for
    what came after the last event it saw. ``close()`` ends it, from any
    thread.

    ``types`` and ``game`` filter on the bridge. ``connected`` and ``ping``
    events are left out unless ``pings``.
    """
    position = _Position(url, types, game, token, latest(url, token) if since is None else since, pings)
    return EventStream(position)


async def aevents(
    url: str,
    *,
    types: Sequence[str] = (),
    game: str | None = None,
    since: int | None = None,
    token: str | None = None,
    pings: bool = False,
) -> AsyncIterator[Event]:
    """:func:`events` for asyncio. Without ``since`` it starts from the
    newest event when it is first iterated."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=30.0)) as http:
        if since is None:
            history_url = f"{url.rstrip('/')}/events/history"
            since = _latest(await http.get(history_url, params={"limit": "1"}, headers=_headers(token, None)))
        position = _Position(url, types, game, token, since, pings)
        while True:
            url, query, headers = position.connecting()
            try:
                async with http.stream("GET", url, params=query, headers=headers) as response:
                    response.raise_for_status()
                    async for line in response.aiter_lines():
                        if (event := position.feed(line)) is not None:
                            yield event
            except (httpx.TransportError, httpx.HTTPStatusError):
                pass
            await asyncio.sleep(position.wait())
