"""``gamebridge bench step --python`` runs end to end: its baseline server and
the package's agent answer every frame (the bench fails on a default reply)."""

import json
import subprocess
import sys

from conftest import binary


def test_the_python_step_bench_answers_every_frame():
    command = [binary(), "-q", "bench", "step", "--python", sys.executable, "--steps", "50", "--instances", "1,2"]
    run = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    rows = {row["label"]: row["calls"] for row in report["results"]}
    assert rows == {
        "baseline, 1 instance": 50,
        "gamebridge, 1 instance": 50,
        "baseline, 2 instances": 100,
        "gamebridge, 2 instances": 100,
    }
