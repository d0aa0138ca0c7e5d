"""Fixtures that start the real bridge binary (``GAMEBRIDGE_BIN``, or the
repository's ``target/debug/gamebridge``) with the project's fake games."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def binary() -> str:
    path = os.environ.get("GAMEBRIDGE_BIN") or str(ROOT / "target" / "debug" / "gamebridge")
    if not Path(path).exists():
        pytest.fail(f"no gamebridge binary at {path}: run `cargo build` first, or set GAMEBRIDGE_BIN")
    return path


def read_url(stream, pattern: str, process: subprocess.Popen) -> str:
    """The first URL matching ``pattern`` in the process's output; the rest of
    the output is drained in a thread, so a chatty bridge never blocks on a
    full pipe."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            raise RuntimeError(f"the bridge exited ({process.poll()}) before saying where it listens")
        found = re.search(pattern, line)
        if found:
            threading.Thread(target=drain, args=(stream,), daemon=True).start()
            return found.group(1)
    raise RuntimeError("the bridge did not say where it listens within 30 s")


def drain(stream) -> None:
    """Reads the stream to its end, then closes it."""
    with stream:
        for _ in stream:
            pass


def wait_for(check, what: str, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def demo():
    """``gamebridge demo``: a simulated turn-based game; yields the API URL."""
    process = subprocess.Popen([binary(), "demo", "--listen", "127.0.0.1:0", "-q"], stdout=subprocess.PIPE, text=True)
    try:
        yield read_url(process.stdout, r"Agent API: (http://\S+)", process)
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def served(*games: str, options: tuple[str, ...] = ()):
    """A bridge serving ``games`` (``NAME=SPEC``) for the ``with`` block, with
    more ``serve`` options if given; yields its URL."""
    process, url = serve(*games, options=options)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)


def serve(*games: str, options: tuple[str, ...] = ()):
    process = subprocess.Popen(
        [binary(), "serve", "--listen", "127.0.0.1:0", *options, *[arg for game in games for arg in ("--game", game)]],
        stderr=subprocess.PIPE,
        text=True,
    )
    url = read_url(process.stderr, r"agent API listening on (http://\S+)", process)
    return process, url


@pytest.fixture
def tempest():
    """A bridge with the ``tempest`` profile on a free port; yields (API URL, game address)."""
    process, url = serve("tempest=tempest?port=0&step_timeout_ms=2000")
    try:

        def listening():
            games = httpx.get(f"{url}/games").json()["result"]["games"]
            detail = games[0].get("detail") or ""
            found = re.search(r"listening on tcp:(\S+)", detail)
            return found and found.group(1)

        yield url, wait_for(listening, "the tempest listener")
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def raw_lockstep():
    """A lockstep game without a manifest (no frame spec); yields the API URL."""
    with served("emu=tcp:127.0.0.1:0?listen&framing=u16be&protocol=step&reply=5") as url:
        yield url


@pytest.fixture
def arena():
    """A bridge serving an Agent Arena game; yields the API URL."""
    with served("arena=agent-arena") as url:
        yield url
