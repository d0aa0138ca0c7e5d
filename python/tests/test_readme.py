"""The README's Python examples run: each ``python`` block marked with
``MARKER`` runs as a script against a real ``gamebridge demo``, with only
the address changed to the demo's, and must exit 0 having printed a line
per ``print``. A block that follows an event stream gets its event: once
the script's earlier prints are out, the test ends turns until it exits."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time

import httpx
from conftest import ROOT

MARKER = "<!-- runs against the demo (python/tests/test_readme.py) -->"
DEADLINE_S = 60


def marked_blocks(readme: str) -> list[tuple[int, str]]:
    """``(line, code)`` of each ``python`` block right after ``MARKER``."""
    lines = readme.splitlines()
    blocks = []
    for number, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        fence = lines[number + 1].strip()
        assert fence == "```python", f"README.md:{number + 1}: the marker must be right before a ```python fence"
        end = lines.index("```", number + 2)
        blocks.append((number + 3, "\n".join(lines[number + 2 : end])))
    return blocks


def test_the_readmes_marked_python_examples_run_against_the_demo(demo):
    blocks = marked_blocks((ROOT / "README.md").read_text())
    assert blocks, f"the README marks the Python examples that run against the demo with {MARKER}"
    for line, code in blocks:
        script = code.replace("http://127.0.0.1:5000", demo)
        prints = sum(1 for row in code.splitlines() if row.strip().startswith("print("))
        printed = run(script, demo, prints, f"README.md:{line}")
        assert len(printed) == prints, f"README.md:{line}: {prints} prints, but it printed {printed}"


def forward(stream, lines: queue.Queue) -> None:
    """Puts each line of ``stream`` on ``lines``, then ``None`` at its end."""
    for row in stream:
        lines.put(row)
    lines.put(None)


def run(script: str, url: str, prints: int, where: str) -> list[str]:
    """Runs ``script`` (the example at ``where``) and returns its output lines. Once all prints but the
    last are out, the script may be waiting for an event: turns are ended
    until it exits."""
    command = [sys.executable, "-c", script]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=forward, args=(process.stdout, lines), daemon=True).start()
    printed: list[str] = []
    deadline = time.monotonic() + DEADLINE_S
    with httpx.Client(base_url=url) as bridge:
        while True:
            waiting = len(printed) >= prints - 1
            try:
                row = lines.get(timeout=0.05 if waiting else max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                if time.monotonic() > deadline:
                    process.kill()
                    message = f"{where}: the example did not finish within {DEADLINE_S} s; it printed {printed}"
                    raise AssertionError(message) from None
                if waiting:
                    bridge.post("/lua/call", json={"function": "EndTurn"})
                continue
            if row is None:
                break
            printed.append(row.rstrip("\n"))
    status = process.wait(DEADLINE_S)
    assert status == 0, f"{where}: the example exited {status}; it printed {printed}; stderr:\n{process.stderr.read()}"
    return printed
