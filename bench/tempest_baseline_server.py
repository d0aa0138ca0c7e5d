"""The Python baseline of ``gamebridge bench step --python``: a lockstep Tempest server
written from the description of Tempest AI's ``Scripts/socket_server.py`` (docs/TEMPEST.md),
with the learning taken out.

As the original does, it serves each emulator on a thread of its own, with ``TCP_NODELAY``
set; reads the 2-byte handshake once, then per step the ``u16`` big-endian length and the
frame; parses the frame's 39-byte header (``struct``) and its state values (``numpy``, big-endian
``f32``), and closes the connection when ``num_values`` does not match the payload; and answers
every frame with one 5-byte action (``struct.pack("bbbBB", ...)``). What it does not do is the
original's work beyond the socket: no model, no replay buffer, no metrics, no lock, no ``select``
poll before each read. It reads with ``recv_into`` into one buffer per client and writes with
``sendall``.

    python bench/tempest_baseline_server.py [--host 127.0.0.1] [--port 0]

It prints ``listening HOST:PORT parser=numpy`` (or ``parser=array`` when numpy is missing, which
parses the state with the standard library instead) and serves until its standard input closes.
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import sys
import threading

try:
    import numpy
except ImportError:  # the state parsed with the standard library instead: a close stand-in
    numpy = None
    import array

LENGTH = struct.Struct(">H")
# num_values, subjective and objective reward, game state, mode, done, frame counter, score,
# save signal, fire, zap, spinner, nearest enemy's segment, player's segment, open level,
# expert fire, expert zap, level number.
HEADER = struct.Struct(">HddBBBHIBBBhhBBBBB")
# fire, no zap, spinner still; start advanced, lowest start level 13.
ACTION = struct.pack("bbbBB", 1, 0, 0, 1, 13)
BUFFER = 2 + 65535


def parse_state(frame: memoryview, count: int):
    """The frame's state values, as the original reads them."""
    if numpy is not None:
        return numpy.frombuffer(frame, ">f4", count=count, offset=HEADER.size)
    values = array.array("f")
    values.frombytes(frame[HEADER.size : HEADER.size + 4 * count])
    if sys.byteorder == "little":
        values.byteswap()
    return values


def serve_client(connection: socket.socket) -> None:
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = bytearray(BUFFER)
    view = memoryview(buffer)
    filled = 0

    def fill(needed: int) -> bool:
        """Reads until ``needed`` bytes are in the buffer; False at the end of the stream."""
        nonlocal filled
        while filled < needed:
            received = connection.recv_into(view[filled:])
            if not received:
                return False
            filled += received
        return True

    def drop(count: int) -> None:
        """Forgets the first ``count`` bytes, keeping any a client sent early."""
        nonlocal filled
        if filled > count:
            buffer[: filled - count] = buffer[count:filled]
        filled -= count

    with connection:
        try:
            if not fill(2):  # the handshake
                return
            drop(2)
            while True:
                if not fill(2):
                    return
                (length,) = LENGTH.unpack_from(buffer)
                if not fill(2 + length):
                    return
                frame = view[2 : 2 + length]
                header = HEADER.unpack_from(frame)
                count = header[0]
                if HEADER.size + 4 * count != length:
                    print(f"baseline: num_values {count} does not match a {length}-byte frame", file=sys.stderr)
                    return
                parse_state(frame, count)
                connection.sendall(ACTION)
                drop(2 + length)
        except OSError:
            return


def close_on_eof() -> None:
    """Ends the server when whoever started it closes its standard input."""
    sys.stdin.buffer.read()
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args()
    listener = socket.create_server((options.host, options.port), backlog=256)
    host, port = listener.getsockname()[:2]
    print(f"listening {host}:{port} parser={'numpy' if numpy is not None else 'array'}", flush=True)
    threading.Thread(target=close_on_eof, daemon=True).start()
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=serve_client, args=(connection,), daemon=True).start()


if __name__ == "__main__":
    main()
