"""A Tempest agent for gamebridge, over its WebSocket agent API.

Start the bridge for Tempest (MAME instances connect to it on port 9999):

    gamebridge serve --game tempest

then this agent (pip install websockets):

    python3 examples/python/tempest_agent.py

It registers the function `step` for the game `tempest`, then answers the
frames of every MAME instance. Frames arrive batched across instances, as
binary messages (docs/WEBSOCKET.md); each reply is Tempest's 5-byte action.
Replace `choose_action` with your policy.
"""

import argparse
import asyncio
import json
import struct

import websockets

FRAMES, REPLIES = 1, 2
HEADER = struct.Struct(">HddBBBHIBBBhhBBBBB")  # Tempest's 39-byte big-endian frame header
# The last two reply bytes are game settings the script applies from every
# reply: start advanced, at level 13 (the original server's defaults).
SETTINGS = (1, 13)
IDLE = struct.pack(">bbbBB", 0, 0, 0, *SETTINGS)


def choose_action(game, seq, frame):
    """Tempest's action: fire i8, zap i8, spinner i8, start_advanced u8, start_level u8.

    This placeholder fires constantly and steers by the frame's spinner field;
    an RL policy goes here.
    """
    if len(frame) >= HEADER.size:
        fields = HEADER.unpack_from(frame, 0)
        spinner = fields[11]
        done = fields[5]
        if done:
            return IDLE  # the original server answers no action on a done frame
        steer = max(-9, min(9, -spinner // 8))
        return struct.pack(">bbbBB", 1, 0, steer, *SETTINGS)
    return IDLE


def decode_frames(message):
    kind, count = struct.unpack_from("<BH", message, 0)
    if kind != FRAMES:
        raise ValueError(f"not a frames message: kind {kind}")
    offset, frames = 3, []
    for _ in range(count):
        frame_id, seq, game_len = struct.unpack_from("<QQH", message, offset)
        offset += 18
        game = message[offset:offset + game_len].decode()
        offset += game_len
        (frame_len,) = struct.unpack_from("<I", message, offset)
        offset += 4
        frames.append((frame_id, game, seq, message[offset:offset + frame_len]))
        offset += frame_len
    return frames


def encode_replies(replies):
    parts = [struct.pack("<BH", REPLIES, len(replies))]
    for frame_id, reply in replies:
        parts.append(struct.pack("<QI", frame_id, len(reply)))
        parts.append(reply)
    return b"".join(parts)


async def run(url, game, max_frames):
    answered = 0
    async with websockets.connect(url, max_size=None) as socket:
        await socket.send(json.dumps({"type": "register", "game": game, "functions": ["step"]}))
        print("bridge:", await socket.recv(), flush=True)
        async for message in socket:
            if isinstance(message, str):
                print("bridge:", message, flush=True)
                continue
            frames = decode_frames(message)
            replies = [(frame_id, choose_action(name, seq, frame)) for frame_id, name, seq, frame in frames]
            await socket.send(encode_replies(replies))
            answered += len(frames)
            if max_frames and answered >= max_frames:
                print(f"answered {answered} frames", flush=True)
                return


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="ws://127.0.0.1:5000/agent")
    parser.add_argument("--game", default="tempest")
    parser.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0: never)")
    options = parser.parse_args()
    asyncio.run(run(options.url, options.game, options.max_frames))


if __name__ == "__main__":
    main()
