"""The repository's example programs run as the README shows them, against
the real bridge and the Tempest-like game under ``gamebridge sim --emu``."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import ROOT, binary


def test_the_tempest_env_example_plays_two_instances_with_no_default_reply(tempest):
    url, address = tempest
    game = [binary(), "sim", "--emu", "--tick-ms", "1", str(ROOT / "examples" / "lua" / "tempest_like.lua")]
    environment = {**os.environ, "TEMPEST_ADDRESS": f"socket.{address}"}
    emulators = [
        subprocess.Popen(game, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)
    ]
    try:
        example = [sys.executable, str(ROOT / "examples" / "python" / "tempest_env.py"), "--url", url]
        done = subprocess.run([*example, "--envs", "2", "--steps", "300"], capture_output=True, text=True, timeout=120)
    finally:
        for emulator in emulators:
            emulator.terminate()
            emulator.wait(10)
    assert done.returncode == 0, done.stderr
    stepping, summary = done.stdout.splitlines()[-2:]
    assert sorted(stepping.removeprefix("stepping ").split(", ")) == ["tempest/1", "tempest/2"], done.stdout
    played = re.fullmatch(r"(\d+) episodes, mean return \S+, (\d+) steps got the default reply", summary)
    assert played is not None, done.stdout
    assert int(played.group(1)) >= 1 and int(played.group(2)) == 0, summary
