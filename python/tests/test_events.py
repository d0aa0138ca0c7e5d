"""The event iterator: filters, and resuming from a sequence number."""

import pytest
from conftest import served

from gamebridge import BridgeError, Client, events
from gamebridge.event_stream import latest

TOKEN = "0123456789abcdef0123"


def test_events_arrive_filtered_and_resume_from_a_sequence_number(demo):
    with Client(demo) as bridge:
        stream = events(demo, types=["TurnStart"])
        bridge.call("EndTurn")
        first = next(stream)
        assert (first.name, first.type) == ("message", "TurnStart")
        assert first.seq is not None
        bridge.call("EndTurn")
        second = next(stream)
        stream.close()
        # A new iterator from just before the second event replays it,
        # exactly as a dropped one asks with Last-Event-ID.
        resumed = events(demo, types=["TurnStart"], since=second.seq - 1)
        again = next(resumed)
        resumed.close()
        assert (again.seq, again.data) == (second.seq, second.data)


def test_a_refused_history_is_a_bridge_error_not_a_key_error():
    with served("arena=agent-arena", options=("--token", TOKEN)) as url:
        assert latest(url, token=TOKEN) >= 0
        with pytest.raises(BridgeError) as refused:
            latest(url, token="wrong")
        assert refused.value.status == 401, refused.value
