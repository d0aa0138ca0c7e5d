"""An MCP client on the official Python SDK (PyPI `mcp`), in its default
mode: it asks `server/discover` and speaks protocol revision 2026-07-28 when
the server offers it (the 2025 handshake otherwise). tests/mcp_python_sdk.rs
runs it against `/mcp` and against `gamebridge mcp`, and reads what it found
from the one JSON object it prints. The SDK validates every result it
receives (a missing `resultType`, say, is an exception here).

    python3 python_client.py --url http://127.0.0.1:5000/mcp
    python3 python_client.py --stdio gamebridge mcp --url http://127.0.0.1:5000
"""

import argparse
import asyncio
import json

from mcp import Client, StdioServerParameters


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def explore(server, mode):
    async with Client(server, mode=mode) as client:
        tools = await client.list_tools()
        called = await client.call_tool("GetCity", {"city": 7})
        refused = await client.call_tool("GetCity", {"city": "seven"})
        resources = await client.list_resources()
        read = await client.read_resource(resources.resources[0].uri)
        return {
            "protocol_version": client.protocol_version,
            "tools": {tool.name: dump(tool) for tool in tools.tools},
            "call": dump(called),
            "refused": dump(refused),
            "resources": [dump(resource) for resource in resources.resources],
            "read": [dump(contents) for contents in read.contents],
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="the bridge's /mcp endpoint")
    parser.add_argument("--stdio", nargs=argparse.REMAINDER, help="a stdio server's command line")
    parser.add_argument("--mode", default="auto", help="the SDK's connect mode (auto is its default)")
    args = parser.parse_args()
    server = args.url or StdioServerParameters(command=args.stdio[0], args=args.stdio[1:])
    print(json.dumps(asyncio.run(explore(server, args.mode))))


if __name__ == "__main__":
    main()
