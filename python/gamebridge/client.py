"""A client for every REST route of the bridge, sync (:class:`Client`) and
asyncio (:class:`AsyncClient`). Results come back as plain JSON values;
failures raise :class:`~gamebridge.errors.BridgeError` with the bridge's code.

    with Client("http://127.0.0.1:5000") as bridge:
        bridge.call("MoveUnit", 1, 3, 3)
        bridge.batch([("GetGameTurn",), ("GetUnits",)])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from .errors import unwrap
from .event_stream import Event, aevents, events

DEFAULT_URL = "http://127.0.0.1:5000"
Request = tuple[str, str, Any]


class _Routes:
    """Each route as ``(method, path, body)``; both clients send these."""

    def __init__(self, game: str | None):
        self.game = game

    def path(self, route: str) -> str:
        return f"/games/{quote(self.game, safe='')}{route}" if self.game else route

    def call(self, function: str, args: Sequence[Any], kwargs: dict, timeout_ms: int | None) -> Request:
        if args and kwargs:
            raise TypeError("a game function takes positional or named arguments, not both")
        body: dict[str, Any] = {"function": function}
        if args or kwargs:
            body["args"] = list(args) if args else kwargs
        if timeout_ms is not None:
            body["timeout_ms"] = timeout_ms
        return "POST", self.path("/lua/call"), body

    def call_with(self, function: str, args: Sequence[Any] | dict, timeout_ms: int | None) -> Request:
        if isinstance(args, dict):
            return self.call(function, (), args, timeout_ms)
        return self.call(function, tuple(args), {}, timeout_ms)

    def batch(self, calls: Iterable[Sequence[Any] | dict], timeout_ms: int | None) -> Request:
        items = []
        for call in calls:
            if isinstance(call, dict):
                items.append(call)
            else:
                function, *args = call
                items.append({"function": function, "args": list(args)} if args else {"function": function})
        body: dict[str, Any] = {"calls": items}
        if timeout_ms is not None:
            body["timeout_ms"] = timeout_ms
        return "POST", self.path("/lua/batch"), body

    def execute(self, script: str, timeout_ms: int | None) -> Request:
        body: dict[str, Any] = {"script": script}
        if timeout_ms is not None:
            body["timeout_ms"] = timeout_ms
        return "POST", self.path("/lua/execute"), body

    def register_external(self, name: str, url: str, is_async: bool, timeout_ms: int | None, description) -> Request:
        body: dict[str, Any] = {"name": name, "url": url, "async": is_async}
        if timeout_ms is not None:
            body["timeout"] = timeout_ms
        if description is not None:
            body["description"] = description
        return "POST", self.path("/external/register"), body

    def player(self, method: str, player: int) -> Request:
        return method, self.path(f"/external/pause-player/{int(player)}"), None


class _Base:
    def __init__(self, url: str, token: str | None, game: str | None):
        self.url = url.rstrip("/")
        self.token = token
        self.routes = _Routes(game)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}


class Client(_Base):
    """The bridge's REST API, blocking. ``game`` addresses one game of several."""

    def __init__(
        self, url: str = DEFAULT_URL, *, token: str | None = None, game: str | None = None, timeout: float = 310.0
    ):
        super().__init__(url, token, game)
        self.http = httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def send(self, request: Request) -> Any:
        method, path, body = request
        response = self.http.request(method, path, json=body)
        return unwrap(response.status_code, response.json())

    def call(self, function: str, /, *args: Any, timeout_ms: int | None = None, **kwargs: Any) -> Any:
        """Calls a game function: positional arguments as a list, named ones as an object
        (an argument named ``timeout_ms`` needs :meth:`call_with`)."""
        return self.send(self.routes.call(function, args, kwargs, timeout_ms))

    def call_with(self, function: str, args: Sequence[Any] | dict, /, *, timeout_ms: int | None = None) -> Any:
        """Calls a game function with its arguments as one list (positional) or
        dict (named), whatever their names."""
        return self.send(self.routes.call_with(function, args, timeout_ms))

    def batch(self, calls: Iterable[Sequence[Any] | dict], *, timeout_ms: int | None = None) -> list[dict]:
        """Several calls in one write: ``[(function, *args) | {function, args}]``; each result envelope in order."""
        return self.send(self.routes.batch(calls, timeout_ms))["results"]

    def execute(self, script: str, *, timeout_ms: int | None = None) -> Any:
        return self.send(self.routes.execute(script, timeout_ms))

    def functions(self) -> list[str]:
        return self.send(("GET", self.routes.path("/lua/functions"), None))["functions"]

    def pending(self) -> dict:
        return self.send(("GET", self.routes.path("/lua/pending"), None))

    def health(self) -> dict:
        return self.send(("GET", self.routes.path("/health"), None))

    def games(self) -> list[dict]:
        return self.send(("GET", "/games", None))["games"]

    def stats(self) -> dict:
        return self.send(("GET", "/stats", None))

    def register_external(
        self, name: str, url: str, *, is_async: bool = False, timeout_ms: int | None = None, description=None
    ) -> Any:
        """Registers a webhook agent function the game can call."""
        return self.send(self.routes.register_external(name, url, is_async, timeout_ms, description))

    def unregister_external(self, name: str) -> Any:
        return self.send(("POST", self.routes.path("/external/unregister"), {"name": name}))

    def external_functions(self) -> list[dict]:
        return self.send(("GET", self.routes.path("/external/functions"), None))["functions"]

    def pause(self) -> Any:
        return self.send(("POST", self.routes.path("/external/pause"), None))

    def resume(self) -> Any:
        return self.send(("POST", self.routes.path("/external/resume"), None))

    def pause_player(self, player: int) -> list[int]:
        return self.send(self.routes.player("POST", player))["pausedPlayers"]

    def unpause_player(self, player: int) -> list[int]:
        return self.send(self.routes.player("DELETE", player))["pausedPlayers"]

    def paused_players(self) -> dict:
        return self.send(("GET", self.routes.path("/external/paused-players"), None))

    def events(self, *, types: Sequence[str] = (), since: int | None = None) -> Iterator[Event]:
        """The event stream, resumed by ``Last-Event-ID`` after a drop (see :func:`gamebridge.events.events`)."""
        return events(self.url, types=types, game=self.routes.game, since=since, token=self.token)


class AsyncClient(_Base):
    """The same routes as :class:`Client`, for asyncio."""

    def __init__(
        self, url: str = DEFAULT_URL, *, token: str | None = None, game: str | None = None, timeout: float = 310.0
    ):
        super().__init__(url, token, game)
        self.http = httpx.AsyncClient(base_url=self.url, headers=self.headers, timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    async def send(self, request: Request) -> Any:
        method, path, body = request
        response = await self.http.request(method, path, json=body)
        return unwrap(response.status_code, response.json())

    async def call(self, function: str, /, *args: Any, timeout_ms: int | None = None, **kwargs: Any) -> Any:
        return await self.send(self.routes.call(function, args, kwargs, timeout_ms))

    async def call_with(self, function: str, args: Sequence[Any] | dict, /, *, timeout_ms: int | None = None) -> Any:
        return await self.send(self.routes.call_with(function, args, timeout_ms))

    async def batch(self, calls: Iterable[Sequence[Any] | dict], *, timeout_ms: int | None = None) -> list[dict]:
        return (await self.send(self.routes.batch(calls, timeout_ms)))["results"]

    async def execute(self, script: str, *, timeout_ms: int | None = None) -> Any:
        return await self.send(self.routes.execute(script, timeout_ms))

    async def functions(self) -> list[str]:
        return (await self.send(("GET", self.routes.path("/lua/functions"), None)))["functions"]

    async def health(self) -> dict:
        return await self.send(("GET", self.routes.path("/health"), None))

    async def games(self) -> list[dict]:
        return (await self.send(("GET", "/games", None)))["games"]

    async def stats(self) -> dict:
        return await self.send(("GET", "/stats", None))

    async def pending(self) -> dict:
        return await self.send(("GET", self.routes.path("/lua/pending"), None))

    async def register_external(
        self, name: str, url: str, *, is_async: bool = False, timeout_ms: int | None = None, description=None
    ) -> Any:
        return await self.send(self.routes.register_external(name, url, is_async, timeout_ms, description))

    async def unregister_external(self, name: str) -> Any:
        return await self.send(("POST", self.routes.path("/external/unregister"), {"name": name}))

    async def external_functions(self) -> list[dict]:
        return (await self.send(("GET", self.routes.path("/external/functions"), None)))["functions"]

    async def pause_player(self, player: int) -> list[int]:
        return (await self.send(self.routes.player("POST", player)))["pausedPlayers"]

    async def unpause_player(self, player: int) -> list[int]:
        return (await self.send(self.routes.player("DELETE", player)))["pausedPlayers"]

    async def paused_players(self) -> dict:
        return await self.send(("GET", self.routes.path("/external/paused-players"), None))

    async def pause(self) -> Any:
        return await self.send(("POST", self.routes.path("/external/pause"), None))

    async def resume(self) -> Any:
        return await self.send(("POST", self.routes.path("/external/resume"), None))

    def events(self, *, types: Sequence[str] = (), since: int | None = None):
        """The event stream as an async iterator, resumed after a drop."""
        return aevents(self.url, types=types, game=self.routes.game, since=since, token=self.token)
