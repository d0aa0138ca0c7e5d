"""The REST client against ``gamebridge demo``."""

import asyncio

import pytest

from gamebridge import AsyncClient, BridgeError, Client


def test_calls_batches_and_errors(demo):
    with Client(demo) as bridge:
        assert "MoveUnit" in bridge.functions()
        assert bridge.call("GetGameTurn") == 1
        assert bridge.call("Echo", 1, "two", [3]) == [1, "two", [3]]
        assert bridge.call("Echo", unit=5) == {"unit": 5}
        assert bridge.call("Echo", function="named so") == {"function": "named so"}
        assert bridge.call_with("Echo", {"timeout_ms": 5}) == {"timeout_ms": 5}
        assert bridge.call_with("Echo", [1, 2], timeout_ms=5000) == [1, 2]
        results = bridge.batch([("GetGameTurn",), ("Echo", "x")])
        assert [result["result"] for result in results] == [1, ["x"]]
        with pytest.raises(BridgeError) as failure:
            bridge.call("NoSuchFunction")
        assert failure.value.code == "LUA_EXECUTION_ERROR", "the game's own code, passed through"
        assert bridge.health()["dll_connected"] is True
        assert [game["name"] for game in bridge.games()] == ["demo"]
        assert bridge.stats()["games"][0]["calls"]["calls"] >= 4


def test_pause_and_players(demo):
    with Client(demo) as bridge:
        bridge.pause()
        assert bridge.paused_players()["isGamePaused"] is True
        bridge.resume()
        assert bridge.pause_player(3) == [3]
        assert bridge.unpause_player(3) == []
        with pytest.raises(BridgeError) as failure:
            bridge.pause_player(99)
        assert "Invalid player ID" in str(failure.value)


def test_the_async_client_and_one_game_of_several(demo):
    async def run():
        async with AsyncClient(demo, game="demo") as bridge:
            assert await bridge.call("Echo", 7) == [7]
            assert await bridge.call_with("Echo", {"timeout_ms": 1}) == {"timeout_ms": 1}
            assert await bridge.pause_player(2) == [2]
            assert (await bridge.paused_players())["pausedPlayers"] == [2]
            return (await bridge.health())["game"]

    assert asyncio.run(run()) == "demo"
