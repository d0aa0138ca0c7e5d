"""An :class:`~gamebridge.Agent` served from a thread of its own, for
environments: Gymnasium and PettingZoo pull (``step`` returns the next
observation), the bridge pushes (frames and ticks arrive as calls). The agent's
asyncio loop runs in the background thread; its handlers hand each call to the
environment's thread and wait for the answer, so neither side polls.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable

from ..agent import Agent


class BackgroundAgent:
    """Runs ``agent`` in a daemon thread from :meth:`start` until :meth:`close`.

    Made first and started second, so its owner can hold it before any call
    arrives: with the game already running, the first frame or tick comes
    as soon as the function is registered, before :meth:`start` returns,
    and its handler calls :meth:`track`."""

    def __init__(
        self,
        agent: Agent,
        *,
        name: str,
        on_stop: Callable[[BaseException | None], None] = lambda failure: None,
    ) -> None:
        self.agent = agent
        self.loop: asyncio.AbstractEventLoop | None = None
        self.failure: BaseException | None = None
        self.closed = False
        self._on_stop = on_stop
        self._connected = threading.Event()
        self._loop_ready = threading.Event()
        self._serving: asyncio.Task | None = None
        self._handlers: set[asyncio.Task] = set()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self, connect_timeout: float) -> None:
        """Returns once every function is registered, or raises ``ConnectionError``."""
        self._thread.start()
        if not self._connected.wait(connect_timeout) or self.failure is not None:
            failure = self.failure
            self.close()
            why = f": {failure}" if failure is not None else f" within {connect_timeout:g} s"
            raise ConnectionError(f"could not register with the bridge at {self.agent.url}{why}") from failure

    def track(self) -> None:
        """Called from a handler: :meth:`close` lets its answer reach the bridge."""
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)

    def call_soon(self, callback: Callable, *args) -> None:
        """Runs ``callback(*args)`` on the agent's loop, from any thread."""
        if self.loop is not None and not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(callback, *args)
            except RuntimeError:
                pass  # the loop ended meanwhile: nobody waits for the answer any more

    def close(self) -> None:
        """Lets the answers in flight reach the bridge, ends the connection and
        joins the thread. Idempotent."""
        if self.closed:
            return
        self.closed = True
        if not self._thread.is_alive() and self.loop is None:
            return  # never started
        loop = self.loop if self._loop_ready.wait(10) else None
        if loop is not None and self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=15)
            except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError, RuntimeError):
                pass  # the loop ended (or is ending) on its own
        self._thread.join(timeout=15)

    def _run(self) -> None:
        error: BaseException | None = None
        try:
            asyncio.run(self._serve())
        except BaseException as failure:  # handed to the environment's thread
            error = failure
        finally:
            if not self.closed:
                self.failure = error or RuntimeError("the agent stopped")
            self._on_stop(self.failure)
            self._loop_ready.set()
            self._connected.set()

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        registered = asyncio.Event()
        self._serving = asyncio.create_task(self.agent.run_async(ready=registered))
        self._loop_ready.set()
        announced = asyncio.create_task(registered.wait())
        await asyncio.wait({self._serving, announced}, return_when=asyncio.FIRST_COMPLETED)
        if announced.done():
            self._connected.set()
        announced.cancel()
        try:
            await self._serving  # for ever: the agent reconnects by itself
        except asyncio.CancelledError:
            if not self.closed:
                raise

    async def _shutdown(self) -> None:
        handlers = set(self._handlers)
        if handlers:
            await asyncio.wait(handlers, timeout=10)
        if self._serving is not None:
            self._serving.cancel()
