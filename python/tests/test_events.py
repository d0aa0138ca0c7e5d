"""The event iterator: filters, and resuming from a sequence number."""

import threading

import pytest
from conftest import served, wait_for

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


def test_a_stream_read_in_one_thread_is_closed_from_another(demo):
    stream = events(demo, pings=True)
    seen = []
    reading = threading.Thread(target=lambda: seen.extend(stream), daemon=True)
    reading.start()
    wait_for(lambda: seen, "the stream's greeting")
    stream.close()
    reading.join(30)
    assert not reading.is_alive(), "close() ended the iteration"
    assert seen[0].name == "connected"
    with events(demo) as scoped:
        assert isinstance(iter(scoped), type(scoped))
    assert list(scoped) == [], "a closed stream yields nothing more"


def test_a_refused_history_is_a_bridge_error_not_a_key_error():
    with served("arena=agent-arena", options=("--token", TOKEN)) as url:
        assert latest(url, token=TOKEN) >= 0
        with pytest.raises(BridgeError) as refused:
            latest(url, token="wrong")
        assert refused.value.status == 401, refused.value
