use std::sync::Arc;

use gamebridge_protocol::{GameEvent, RawValue};

use super::*;

fn game_event(name: &str) -> HubEventKind {
    let payload = RawValue::from_string("{\"turn\": 1}".into()).unwrap();
    HubEventKind::Game(GameEvent {
        id: Some(RawValue::from_string("1000001".into()).unwrap()),
        ..GameEvent::named(name, payload)
    })
}

fn publish(log: &EventLog, count: usize) {
    let game: Arc<str> = "civ5".into();
    for n in 0..count {
        log.publish(&game, &game_event(&format!("E{n}")));
    }
}

fn seqs(delivery: Delivery) -> Vec<u64> {
    match delivery {
        Delivery::Events(events) => events.iter().map(|event| event.seq).collect(),
        Delivery::Lagged { first, missed } => panic!("unexpected lag of {missed} from {first}"),
    }
}

#[test]
fn events_render_as_the_original_sends_them() {
    let log = EventLog::new(10);
    publish(&log, 1);
    let (events, _) = log.read(0, 10);
    assert_eq!(events[0].seq, 1);
    assert_eq!(&events[0].data[..], br#"{"id":1000001,"type":"E0","payload":{"turn": 1}}"#);
    log.tag_games(true);
    log.publish(&"lab".into(), &HubEventKind::LinkStatus { connected: false });
    let (events, _) = log.read(1, 10);
    assert_eq!(&events[0].data[..], br#"{"type":"dll_status","payload":{"connected":false},"game":"lab"}"#);
}

#[test]
fn payloads_with_line_breaks_are_made_single_line() {
    let log = EventLog::new(10);
    let payload = RawValue::from_string("{\n  \"a\": \"x\\ny\"\r\n}".into()).unwrap();
    let kind = HubEventKind::Game(GameEvent::named("Pretty", payload));
    log.publish(&"g".into(), &kind);
    let (events, _) = log.read(0, 1);
    assert!(!events[0].data.contains(&b'\n') && !events[0].data.contains(&b'\r'));
    assert_eq!(events[0].data_json()["payload"]["a"], "x\ny");
}

#[tokio::test]
async fn a_cursor_replays_from_an_id_then_follows_live() {
    let log = Arc::new(EventLog::new(100));
    publish(&log, 5);
    let mut cursor = log.subscribe(Some(2));
    assert_eq!(seqs(cursor.next(10).await), [3, 4, 5]);
    let mut live = log.subscribe(None);
    publish(&log, 2);
    assert_eq!(seqs(cursor.next(10).await), [6, 7]);
    assert_eq!(seqs(live.next(10).await), [6, 7]);
}

#[tokio::test]
async fn batches_are_bounded() {
    let log = Arc::new(EventLog::new(1000));
    publish(&log, 250);
    let mut cursor = log.subscribe(Some(0));
    assert_eq!(seqs(cursor.next(100).await).len(), 100);
    assert_eq!(seqs(cursor.next(100).await).len(), 100);
    assert_eq!(seqs(cursor.next(100).await), (201..=250).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_cursor_behind_the_ring_is_told_how_many_it_lost() {
    let log = Arc::new(EventLog::new(10));
    let mut cursor = log.subscribe(Some(0));
    publish(&log, 25);
    match cursor.next(100).await {
        Delivery::Lagged { first, missed } => assert_eq!((first, missed), (1, 15)),
        other => panic!("expected a lag, got {other:?}"),
    }
    assert_eq!(seqs(cursor.next(100).await), (16..=25).collect::<Vec<_>>());
}

/// An event whose rendered data is about `size` bytes.
fn sized_event(size: usize) -> HubEventKind {
    let payload = format!("\"{}\"", "x".repeat(size));
    HubEventKind::Game(GameEvent::named("Big", RawValue::from_string(payload).unwrap()))
}

/// Publishes `count` events of about `size` bytes; returns what one costs the ring.
fn publish_sized(log: &EventLog, count: usize, size: usize) -> usize {
    let game: Arc<str> = "civ5".into();
    let seq = (0..count).map(|_| log.publish(&game, &sized_event(size))).last().unwrap();
    log.read(seq - 1, 1).0[0].footprint()
}

#[tokio::test]
async fn the_ring_keeps_its_bytes_under_budget_and_reports_what_it_evicted_as_lagged() {
    // Room for ten events of 1 KB by bytes, a thousand by count.
    let log = Arc::new(EventLog::bounded(1_000, 10 * 1_100));
    let mut cursor = log.subscribe(Some(0));
    let cost = publish_sized(&log, 100, 1_000);
    let (held, bytes) = log.held();
    assert_eq!(held, 10 * 1_100 / cost, "the byte budget, not the count, decides what is kept");
    assert!(bytes <= 10 * 1_100, "{bytes} bytes held");
    let kept_from = 100 - held as u64 + 1;
    match cursor.next(1_000).await {
        Delivery::Lagged { first, missed } => assert_eq!((first, missed), (1, kept_from - 1)),
        other => panic!("expected a lag, got {other:?}"),
    }
    assert_eq!(seqs(cursor.next(1_000).await), (kept_from..=100).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_event_larger_than_the_budget_is_delivered_and_then_gives_way() {
    let log = Arc::new(EventLog::bounded(1_000, 4_096));
    let mut live = log.subscribe(None);
    publish_sized(&log, 3, 100);
    publish_sized(&log, 1, 100_000);
    assert_eq!(log.held().0, 1, "the oversized event is kept alone");
    match live.next(10).await {
        Delivery::Lagged { first, missed } => assert_eq!((first, missed), (1, 3)),
        other => panic!("expected a lag, got {other:?}"),
    }
    assert_eq!(seqs(live.next(10).await), [4], "the newest event always reaches a live client");
    publish_sized(&log, 1, 100);
    assert_eq!(seqs(live.next(10).await), [5]);
    assert!(log.held().1 < 4_096);
}

#[tokio::test]
async fn a_journal_refills_what_the_byte_budget_evicted_within_the_budget_per_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let log = Arc::new(EventLog::with_journal(1_000, 10 * 1_100, &path).unwrap());
    publish_sized(&log, 50, 1_000);
    log.close();
    let in_ring_from = 50 - log.held().0 as u64 + 1;
    let mut cursor = log.subscribe(Some(0));
    let mut seen = Vec::new();
    while seen.len() < 50 {
        let batch = seqs(cursor.next(1_000).await);
        let from_disk = batch.iter().filter(|seq| **seq < in_ring_from).count();
        assert!(from_disk <= 10, "one refill reads no more than the ring's budget: {from_disk}");
        seen.extend(batch);
    }
    assert_eq!(seen, (1..=50).collect::<Vec<_>>(), "nothing is lost when the journal has it");
    let restarted = EventLog::with_journal(1_000, 10 * 1_100, &path).unwrap();
    let (held, bytes) = restarted.held();
    assert!(held < 50 && bytes <= 10 * 1_100, "the journal's tail is loaded within the budget");
}

#[tokio::test]
async fn a_journal_refills_what_the_ring_lost_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    {
        let log = Arc::new(EventLog::with_journal(10, DEFAULT_EVENT_RING_BYTES, &path).unwrap());
        publish(&log, 25);
        log.close();
        let mut cursor = log.subscribe(Some(3));
        // 4..=15 are only in the journal, 16..=25 in the ring: one seamless delivery.
        assert_eq!(seqs(cursor.next(100).await), (4..=25).collect::<Vec<_>>());
    }
    let restarted = Arc::new(EventLog::with_journal(10, DEFAULT_EVENT_RING_BYTES, &path).unwrap());
    assert_eq!(restarted.latest(), 25, "numbering continues after a restart");
    let mut cursor = restarted.subscribe(Some(20));
    assert_eq!(seqs(cursor.next(100).await), (21..=25).collect::<Vec<_>>());
    publish(&restarted, 1);
    assert_eq!(seqs(cursor.next(100).await), [26]);
    let mut old = restarted.subscribe(Some(0));
    assert_eq!(seqs(old.next(100).await).len(), 26, "everything is still in the journal");
}

#[test]
fn a_line_cut_short_by_a_crash_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    {
        let log = EventLog::with_journal(10, DEFAULT_EVENT_RING_BYTES, &path).unwrap();
        publish(&log, 3);
        log.close();
    }
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(r#"{"seq":4,"game":"civ5","ty"#);
    std::fs::write(&path, text).unwrap();
    let log = EventLog::with_journal(10, DEFAULT_EVENT_RING_BYTES, &path).unwrap();
    assert_eq!(log.latest(), 3);
    publish(&log, 1);
    log.close();
    let lines: Vec<String> = std::fs::read_to_string(&path).unwrap().lines().map(str::to_owned).collect();
    assert!(lines.last().unwrap().starts_with(r#"{"seq":4,"#), "new events start on a fresh line");
}

#[test]
fn journal_reads_from_the_middle_match_a_scan_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let event = |seq: u64| {
        let data = format!(r#"{{"n":{seq},"pad":"{}"}}"#, "x".repeat((seq % 7) as usize));
        Arc::new(StoredEvent::new(seq, "civ5".into(), "E".into(), seq, data.as_bytes()))
    };
    // Two runs with a line cut short by a crash between them: the second
    // run indexes what it writes from the file's real end.
    {
        let (journal, _) = journal::Journal::open(&path, 10, usize::MAX).unwrap();
        (1..=2_500).for_each(|seq| journal.append(event(seq)));
        journal.close();
    }
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(r#"{"seq":2501,"game":"ci"#);
    std::fs::write(&path, text).unwrap();
    {
        let (journal, tail) = journal::Journal::open(&path, 10, usize::MAX).unwrap();
        assert_eq!(tail.last().map(|event| event.seq), Some(2_500));
        (2_501..=5_000).for_each(|seq| journal.append(event(seq)));
        journal.close();
        // Read back while this run's index, built as it wrote, is in use.
        let read = journal.read(4_090, 4_200, 5, usize::MAX).unwrap();
        assert_eq!(
            read.iter().map(|event| event.seq).collect::<Vec<_>>(),
            [4_091, 4_092, 4_093, 4_094, 4_095]
        );
    }
    let (journal, _) = journal::Journal::open(&path, 10, usize::MAX).unwrap();
    for since in [0, 1, 1_023, 1_024, 1_025, 2_047, 2_499, 2_500, 2_501, 3_071, 4_999, 5_000] {
        let read: Vec<u64> =
            journal.read(since, u64::MAX, 3, usize::MAX).unwrap().iter().map(|event| event.seq).collect();
        let expected: Vec<u64> = (since + 1..=5_000).take(3).collect();
        assert_eq!(read, expected, "since {since}");
        let first = journal.read(since, u64::MAX, 1, usize::MAX).unwrap();
        if let Some(first) = first.first() {
            assert_eq!(&first.data[..], &event(first.seq).data[..], "whole lines, read from their start");
        }
    }
}

/// What one `next_visiting` call hands over: the seqs visited, or the gap.
async fn visit(cursor: &mut EventCursor, max: usize, max_bytes: usize) -> Result<Vec<u64>, (u64, u64)> {
    let mut seen = Vec::new();
    match cursor.next_visiting(max, max_bytes, |event| seen.push(event.seq)).await {
        None => Ok(seen),
        Some(Delivery::Lagged { first, missed }) => Err((first, missed)),
        Some(other) => panic!("a visit returns only gaps, got {other:?}"),
    }
}

#[tokio::test]
async fn a_visiting_cursor_sees_what_a_reading_one_gets() {
    let log = Arc::new(EventLog::new(100));
    publish(&log, 5);
    let mut replay = log.subscribe(Some(2));
    let mut live = log.subscribe(None);
    assert_eq!(visit(&mut replay, 100, usize::MAX).await, Ok(vec![3, 4, 5]));
    publish(&log, 3);
    assert_eq!(visit(&mut replay, 2, usize::MAX).await, Ok(vec![6, 7]), "bounded by count");
    assert_eq!(visit(&mut replay, 100, usize::MAX).await, Ok(vec![8]));
    assert_eq!(visit(&mut live, 100, usize::MAX).await, Ok(vec![6, 7, 8]));
    assert_eq!(live.position(), 9);
}

#[tokio::test]
async fn a_visit_is_bounded_by_frame_bytes_but_hands_over_at_least_one_event() {
    let log = Arc::new(EventLog::new(100));
    publish_sized(&log, 6, 1_000);
    let mut cursor = log.subscribe(Some(0));
    assert_eq!(visit(&mut cursor, 100, 2_500).await, Ok(vec![1, 2]));
    assert_eq!(visit(&mut cursor, 100, 10).await, Ok(vec![3]));
    assert_eq!(visit(&mut cursor, 100, usize::MAX).await, Ok(vec![4, 5, 6]));
}

/// A visit longer than one hold of the lock ends where the next event no
/// longer fits in what is left of its bytes (it once spun there forever).
#[tokio::test]
async fn a_visit_over_several_holds_of_the_lock_ends_at_its_byte_bound() {
    let log = Arc::new(EventLog::new(100));
    publish_sized(&log, 60, 1_000);
    let frame = log.read(0, 1).0[0].sse_frame().len();
    let mut cursor = log.subscribe(Some(0));
    let max_bytes = 20 * frame + frame / 2;
    assert_eq!(visit(&mut cursor, 100, max_bytes).await, Ok((1..=20).collect()));
    assert_eq!(visit(&mut cursor, 100, max_bytes).await, Ok((21..=40).collect()));
}

#[tokio::test]
async fn a_visiting_cursor_behind_the_ring_gets_the_gap_then_the_rest() {
    let log = Arc::new(EventLog::new(10));
    let mut cursor = log.subscribe(Some(0));
    publish(&log, 25);
    assert_eq!(visit(&mut cursor, 100, usize::MAX).await, Err((1, 15)));
    assert_eq!(visit(&mut cursor, 100, usize::MAX).await, Ok((16..=25).collect()));
}

#[tokio::test]
async fn a_visiting_cursor_is_refilled_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let log =
        Arc::new(EventLog::with_journal(10, DEFAULT_EVENT_RING_BYTES, &dir.path().join("e.jsonl")).unwrap());
    publish(&log, 25);
    log.close();
    let mut cursor = log.subscribe(Some(3));
    let mut seen = Vec::new();
    while seen.len() < 22 {
        seen.extend(visit(&mut cursor, 100, usize::MAX).await.unwrap());
    }
    assert_eq!(seen, (4..=25).collect::<Vec<_>>());
}

#[test]
fn every_event_carries_its_whole_sse_frame_and_its_type_beside_it() {
    let log = EventLog::new(10);
    publish(&log, 12);
    let (events, _) = log.read(9, 1);
    let frame =
        format!("id: 10\nevent: message\ndata: {}\n\n", std::str::from_utf8(&events[0].data).unwrap());
    assert_eq!(events[0].sse_frame(), frame.as_bytes());
    assert_eq!(events[0].type_bytes(), b"E9");
    assert!(events[0].footprint() > frame.len() + "E9".len() + std::mem::size_of::<StoredEvent>());
}
