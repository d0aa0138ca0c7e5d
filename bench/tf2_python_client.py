"""The seed's Python IPC client for the Transport Fever 2 mod (PRD 01,
send_ipc), run by `gamebridge bench mailbox` as the baseline: delete the
stale answer, write the command atomically, poll every 100 ms.

Usage: python3 tf2_python_client.py PREFIX CALLS  -> prints JSON latencies (ms)
"""

import json
import os
import sys
import time
import uuid


def send_ipc(prefix, command, params=None, timeout=30.0):
    cmd_file, resp_file = prefix + "_cmd.json", prefix + "_resp.json"
    request_id = uuid.uuid4().hex[:8]
    str_params = {str(k): str(v) for k, v in (params or {}).items()}
    cmd = {"id": request_id, "cmd": command, "ts": str(int(time.time() * 1000)), "params": str_params}
    if os.path.exists(resp_file):
        os.remove(resp_file)
    tmp = cmd_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump(cmd, f)
    os.rename(tmp, cmd_file)
    start = time.time()
    while time.time() - start < timeout:
        if os.path.exists(resp_file):
            try:
                with open(resp_file) as f:
                    resp = json.load(f)
                if resp.get("id") == request_id:
                    os.remove(resp_file)
                    return resp
            except (OSError, json.JSONDecodeError):
                pass
        time.sleep(0.1)
    return None


def main():
    prefix, calls = sys.argv[1], int(sys.argv[2])
    latencies = []
    for n in range(calls):
        began = time.perf_counter()
        resp = send_ipc(prefix, "echo", {"n": n})
        if resp is None or resp.get("status") != "ok":
            print(json.dumps({"error": f"call {n} failed: {resp!r}"}))
            sys.exit(1)
        latencies.append((time.perf_counter() - began) * 1000.0)
    print(json.dumps({"latencies_ms": latencies}))


if __name__ == "__main__":
    main()
