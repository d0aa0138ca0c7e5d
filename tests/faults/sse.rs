//! An SSE client that stops reading (its connection open, its socket
//! buffers full). A client is only a position in the shared event ring
//! (crates/hub/src/events), so it costs no memory per event however far it
//! falls behind; when it reads again it gets every event, or is told in a
//! `lagged` notice which ones the ring no longer holds.

use gamebridge_protocol::codec::VOX_DELIMITER;

use crate::own_process::{resident_bytes, run_here};
use crate::support::{GameConnection, Harness};

/// The game sends the events `Big` numbered `numbers`, each padded with
/// `size` bytes, in writes of 100 events. The frames are written by hand:
/// building 200 MB through serde would cost more than the bridge's work.
async fn send_big_events(connection: &mut GameConnection, numbers: std::ops::Range<u64>, size: usize) {
    let pad = "x".repeat(size);
    let numbers: Vec<u64> = numbers.collect();
    for chunk in numbers.chunks(100) {
        let mut bytes = Vec::with_capacity(chunk.len() * (size + 100));
        for &n in chunk {
            let event =
                format!(r#"{{"type":"game_event","event":"Big","payload":{{"n":{n},"pad":"{pad}"}}}}"#);
            bytes.extend_from_slice(event.as_bytes());
            bytes.extend_from_slice(VOX_DELIMITER);
        }
        connection.send_raw(&bytes).await;
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_resumes_from_its_last_event_id_and_loses_nothing() {
    const TOTAL: u64 = 2_000;
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let mut stalled = harness.sse("/events?types=Big").await;
    let mut reader = harness.sse("/events?types=Big").await;
    // 16 MB: far more than the stalled client's socket buffers hold.
    let produce = async {
        send_big_events(&mut connection, 0..TOTAL, 8 * 1024).await;
        // The game is served all the while.
        harness.sync(&mut connection).await;
    };
    let keep_up = async {
        let mut ids = Vec::new();
        for n in 0..TOTAL {
            let event = reader.next_message().await;
            assert_eq!(event.data["payload"]["n"], n, "a client that keeps up gets every event");
            ids.push(event.id.unwrap());
        }
        ids
    };
    let stop_reading = async {
        let mut last = 0;
        for n in 0..10 {
            let event = stalled.next_message().await;
            assert_eq!(event.data["payload"]["n"], n);
            last = event.id.unwrap();
        }
        last
    };
    let ((), ids, last_read) = tokio::join!(produce, keep_up, stop_reading);
    assert!(ids.windows(2).all(|pair| pair[1] == pair[0] + 1), "the other client's ids have no gap");

    // The stalled client gives up its connection and resumes after the last
    // event it handled, well within the ring.
    drop(stalled);
    let mut resumed = harness.sse_with("/events?types=Big", Some(last_read)).await;
    for n in 10..TOTAL {
        let event = resumed.next_message().await;
        assert_eq!((event.event.as_str(), event.data["payload"]["n"].as_u64()), ("message", Some(n)));
        assert_eq!(event.id, Some(last_read + n - 9));
    }
    send_big_events(&mut connection, TOTAL..TOTAL + 1, 1).await;
    let next = resumed.next_message().await;
    assert_eq!(
        (next.data["payload"]["n"].as_u64(), next.id),
        (Some(TOTAL), Some(ids[ids.len() - 1] + 1)),
        "and nothing twice"
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_costs_bounded_memory_and_is_told_what_it_missed() {
    if !run_here("sse::a_client_that_stops_reading_costs_bounded_memory_and_is_told_what_it_missed").await {
        return;
    }
    const WARM_UP: u64 = 200;
    const TOTAL: u64 = 1_200;
    const EVENT: usize = 100 * 1024;
    let (harness, _game, mut connection) =
        Harness::with_one_game_configured("", |config| config.event_ring = 100).await;
    let mut stalled = harness.sse("/events?types=Big").await;
    assert_eq!(stalled.next().await.event, "connected");
    let first = harness.hub().events().latest() + 1;
    // Fill the ring, the socket buffers and the allocator's pools first.
    send_big_events(&mut connection, 0..WARM_UP, EVENT).await;
    harness.sync(&mut connection).await;
    let before = resident_bytes();
    // 100 MB of events while the client reads nothing; a queue per client
    // would hold them all.
    send_big_events(&mut connection, WARM_UP..TOTAL, EVENT).await;
    harness.sync(&mut connection).await;
    let grown = resident_bytes().saturating_sub(before);
    assert!(
        grown < 48 << 20,
        "100 MB of events for a client that does not read grew the bridge by {} MB",
        grown >> 20
    );

    // Reading again, the client gets each event or hears it was lost.
    let last = harness.hub().events().latest();
    let (mut next, mut delivered, mut missed) = (first, 0, 0);
    while next <= last {
        let event = stalled.next_message().await;
        match event.event.as_str() {
            "message" => {
                assert_eq!(event.id, Some(next), "events arrive in order, without a silent gap");
                assert_eq!(event.data["payload"]["n"].as_u64(), Some(next - first));
                delivered += 1;
                next += 1;
            }
            "lagged" => {
                assert_eq!(event.data["first"].as_u64(), Some(next), "{:?}", event.data);
                let gap = event.data["missed"].as_u64().unwrap();
                assert_eq!(
                    event.id,
                    Some(next + gap - 1),
                    "the notice's id moves Last-Event-ID past the gap"
                );
                missed += gap;
                next += gap;
            }
            other => panic!("unexpected event {other}"),
        }
    }
    assert_eq!(delivered + missed, TOTAL);
    assert!(missed > 0 && delivered >= 100, "delivered {delivered}, missed {missed}");
}
