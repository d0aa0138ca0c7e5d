"""The agent of ``gamebridge bench step --python``: the Python package's ``gamebridge.Agent``
serving Tempest's lockstep frames with ``@agent.step``, one Python call per batch of
instances' frames, each answered with the same 5-byte action as the baseline server's.

    PYTHONPATH=python python bench/tempest_step_agent.py ws://127.0.0.1:5000/agent \\
        [--batch-max 64] [--batch-wait-ms 2]

It prints ``ready`` once the bridge has registered it and serves until its standard input
closes (or Ctrl-C); with ``--stats``, it then prints how many calls and frames it served.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading

try:
    import websockets  # noqa: F401 - the package's agent needs it; say so before it does
except ImportError:
    sys.exit("tempest_step_agent.py: the websockets package is missing (pip install websockets)")

from gamebridge import Agent

# fire, no zap, spinner still; start advanced, lowest start level 13: the baseline's action.
ACTION = bytes((1, 0, 0, 1, 13))


class Stats:
    calls = 0
    frames = 0
    largest = 0


def close_on_eof(stats: bool) -> None:
    """Ends the agent when whoever started it closes its standard input."""
    sys.stdin.buffer.read()
    if stats:
        mean = Stats.frames / max(Stats.calls, 1)
        print(
            f"agent: {Stats.calls} step calls, {Stats.frames} frames, batches of {mean:.1f} on average"
            f" and {Stats.largest} at most",
            file=sys.stderr,
            flush=True,
        )
    os._exit(0)


async def serve(agent: Agent) -> None:
    ready = asyncio.Event()
    serving = asyncio.create_task(agent.run_async(ready=ready))
    waiting = asyncio.create_task(ready.wait())
    await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if serving.done():
        serving.result()  # raises what stopped it
        return
    print("ready", flush=True)
    await serving


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the bridge's agent endpoint, ws://HOST:PORT/agent")
    parser.add_argument("--batch-max", type=int, help="frames per batch at most (the bridge's default: 64)")
    parser.add_argument("--batch-wait-ms", type=int, help="how long a batch waits for instances (default: 2)")
    parser.add_argument("--stats", action="store_true", help="count the calls and frames, printed at the end")
    options = parser.parse_args()
    batch = {}
    if options.batch_max is not None:
        batch["max"] = options.batch_max
    if options.batch_wait_ms is not None:
        batch["wait_ms"] = options.batch_wait_ms
    agent = Agent(options.url, batch=batch or None)

    if options.stats:

        @agent.step("tempest")
        def act(frames):
            Stats.calls += 1
            Stats.frames += len(frames)
            Stats.largest = max(Stats.largest, len(frames))
            return [ACTION] * len(frames)

    else:

        @agent.step("tempest")
        def act(frames):
            return [ACTION] * len(frames)

    threading.Thread(target=close_on_eof, args=(options.stats,), daemon=True).start()
    try:
        asyncio.run(serve(agent))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
