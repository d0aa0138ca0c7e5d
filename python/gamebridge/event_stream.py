"""The bridge's event stream (Server-Sent Events) as an iterator that does not
lose events when the connection drops: it reconnects with ``Last-Event-ID``,
and the bridge replays what came in between. Notices the bridge sends for a
gap it can no longer fill (``lagged``) and for a position it does not know
(``reset``) arrive as events like any other.

    for event in events("http://127.0.0.1:5000", types=["TurnStart"]):
        print(event.seq, event.type, event.data)
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

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


def _query(types: Sequence[str], game: str | None) -> dict:
    query: dict[str, str] = {}
    if types:
        query["types"] = ",".join(types)
    if game:
        query["game"] = game
    return query


def _headers(token: str | None, last: int | None) -> dict:
    headers = {"Accept": "text/event-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if last is not None:
        headers["Last-Event-ID"] = str(last)
    return headers


def latest(url: str, token: str | None = None) -> int:
    """The sequence number of the newest event the bridge has."""
    response = httpx.get(f"{url.rstrip('/')}/events/history", params={"limit": "1"}, headers=_headers(token, None))
    return int(response.json()["result"]["latest"])


def events(
    url: str,
    *,
    types: Sequence[str] = (),
    game: str | None = None,
    since: int | None = None,
    token: str | None = None,
    pings: bool = False,
) -> Iterator[Event]:
    """Every event after sequence number ``since`` (by default: after the
    newest when this is called), for ever; reconnects by itself, asking for
    what came after the last event it saw.

    ``types`` and ``game`` filter on the bridge. ``connected`` and ``ping``
    events are left out unless ``pings``.
    """
    return _events(url, types, game, latest(url, token) if since is None else since, token, pings)


def _events(url, types, game, since, token, pings) -> Iterator[Event]:
    last = since
    failures = 0
    with httpx.Client(timeout=httpx.Timeout(10.0, read=30.0)) as http:
        while True:
            try:
                query = _query(types, game)
                with http.stream("GET", f"{url.rstrip('/')}/events", params=query, headers=_headers(token, last)) as r:
                    r.raise_for_status()
                    parser = _Parser()
                    for line in r.iter_lines():
                        event = parser.feed(line)
                        if event is None:
                            continue
                        failures = 0
                        if event.seq is not None:
                            last = event.seq
                        if pings or event.name not in ("connected", "ping"):
                            yield event
            except (httpx.TransportError, httpx.HTTPStatusError):
                pass
            time.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
            failures += 1


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
    failures = 0
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=30.0)) as http:
        if since is None:
            history = await http.get(
                f"{url.rstrip('/')}/events/history", params={"limit": "1"}, headers=_headers(token, None)
            )
            since = int(history.json()["result"]["latest"])
        last = since
        while True:
            try:
                query = _query(types, game)
                headers = _headers(token, last)
                async with http.stream("GET", f"{url.rstrip('/')}/events", params=query, headers=headers) as r:
                    r.raise_for_status()
                    parser = _Parser()
                    async for line in r.aiter_lines():
                        event = parser.feed(line)
                        if event is None:
                            continue
                        failures = 0
                        if event.seq is not None:
                            last = event.seq
                        if pings or event.name not in ("connected", "ping"):
                            yield event
            except (httpx.TransportError, httpx.HTTPStatusError):
                pass
            await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
            failures += 1
