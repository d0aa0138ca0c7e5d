"""A stand-in for MAME running Tempest AI's Lua script, on the wire: the
2-byte handshake, then each frame as a big-endian ``u16`` length and an
819-byte payload (the 39-byte header and 195 ``f32``), then a blocking read of
the 5-byte reply. The game applies each reply: the next frame's reward is the
fire the reply asked for, and ``state[0]`` counts frames within the episode."""

from __future__ import annotations

import socket
import struct
import threading

HEADER = struct.Struct(">HddBBBHIBBBhhBBBBB")
VALUES = 195


def frame(*, reward: float = 0.0, done: bool = False, counter: int = 0, score: int = 0, fire: int = 0) -> bytes:
    """One frame as the script packs it."""
    header = HEADER.pack(VALUES, reward, 0.0, 1, 0, int(done), counter, score, 0, fire, 0, 0, -1, 0, 0, 0, 0, 1)
    state = [0.0] * VALUES
    state[0] = float(counter)
    return header + struct.pack(f">{VALUES}f", *state)


class Mame:
    """One emulator's connection."""

    def __init__(self, address: str):
        host, port = address.rsplit(":", 1)
        self.connection = socket.create_connection((host, int(port)), timeout=60)
        self.connection.sendall(struct.pack(">H", 0))

    def step(self, payload: bytes) -> bytes:
        self.connection.sendall(struct.pack(">H", len(payload)) + payload)
        reply = b""
        while len(reply) < 5:
            chunk = self.connection.recv(5 - len(reply))
            if not chunk:
                raise ConnectionError("the bridge closed the connection")
            reply += chunk
        return reply

    def close(self) -> None:
        self.connection.close()


class Tempest(threading.Thread):
    """A game that plays episodes of ``length`` frames for ever (until
    :meth:`stop`), recording every reply it applied."""

    def __init__(self, address: str, length: int = 5):
        super().__init__(daemon=True)
        self.mame = Mame(address)
        self.length = length
        self.replies: list[bytes] = []
        self.stopping = threading.Event()
        self.start()

    def run(self) -> None:
        fire, counter, score = 0, 0, 0
        try:
            while not self.stopping.is_set():
                counter += 1
                done = counter == self.length
                reply = self.mame.step(frame(reward=float(fire), done=done, counter=counter, score=score, fire=fire))
                self.replies.append(reply)
                fire, score = reply[0], score + reply[0]
                if done:
                    counter = 0
        except OSError:
            pass  # the test closed the connection

    def stop(self) -> None:
        self.stopping.set()
        self.mame.close()
