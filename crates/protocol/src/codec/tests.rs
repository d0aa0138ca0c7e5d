use bytes::BytesMut;
use proptest::prelude::*;
use tokio_util::codec::Decoder;

use super::*;

/// Feeds `chunks` to a fresh codec one read at a time, then ends the stream.
fn decode_chunks(framing: &Framing, max: usize, chunks: &[&[u8]]) -> Vec<Result<Vec<u8>, FrameError>> {
    let mut codec = FrameCodec::new(framing, max);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(item) = codec.decode(&mut buf).expect("decoding never fails with I/O") {
            out.push(item.map(|frame| frame.to_vec()));
        }
    }
    while let Some(item) = codec.decode_eof(&mut buf).expect("decoding never fails with I/O") {
        out.push(item.map(|frame| frame.to_vec()));
    }
    out
}

fn encode_all(framing: &Framing, payloads: &[Vec<u8>]) -> Vec<u8> {
    let codec = FrameCodec::new(framing, DEFAULT_MAX_FRAME);
    let mut buf = BytesMut::new();
    for payload in payloads {
        codec.encode(payload.as_slice(), &mut buf).expect("payload encodes");
    }
    buf.to_vec()
}

fn ok(frames: &[&str]) -> Vec<Result<Vec<u8>, FrameError>> {
    frames.iter().map(|frame| Ok(frame.as_bytes().to_vec())).collect()
}

#[test]
fn many_frames_in_one_read() {
    let stream = b"{\"a\":1}!@#$%^!{\"b\":2}!@#$%^!{\"c\":3}!@#$%^!";
    assert_eq!(
        decode_chunks(&Framing::default(), 1024, &[stream]),
        ok(&["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"])
    );
}

#[test]
fn delimiter_split_across_reads() {
    let chunks: [&[u8]; 4] = [b"{\"a\":1}!@", b"#$", b"%^!{\"b\"", b":2}!@#$%^!"];
    assert_eq!(decode_chunks(&Framing::default(), 1024, &chunks), ok(&["{\"a\":1}", "{\"b\":2}"]));
}

#[test]
fn partial_delimiter_inside_a_frame_is_data() {
    let stream = b"{\"a\":\"!@#\"}!@#$%^!";
    assert_eq!(decode_chunks(&Framing::default(), 1024, &[stream]), ok(&["{\"a\":\"!@#\"}"]));
}

#[test]
fn oversized_frame_is_reported_and_the_next_frame_survives() {
    let big = vec![b'x'; 5000];
    let chunks: Vec<&[u8]> = big.chunks(700).chain([b"!@#$%^!ok!@#$%^!".as_slice()]).collect();
    let decoded = decode_chunks(&Framing::default(), 1000, &chunks);
    assert_eq!(decoded, vec![Err(FrameError::TooLarge { size: 5000, max: 1000 }), Ok(b"ok".to_vec())]);
}

#[test]
fn oversized_frame_keeps_memory_bounded() {
    let mut codec = FrameCodec::new(&Framing::default(), 1000);
    let mut buf = BytesMut::new();
    for _ in 0..1000 {
        buf.extend_from_slice(&[b'y'; 4096]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(buf.len() <= 1000 + 4096 + VOX_DELIMITER.len(), "buffer grew to {}", buf.len());
    }
}

#[test]
fn truncated_frame_at_end_of_stream_is_an_error_item() {
    let decoded = decode_chunks(&Framing::default(), 1024, &[b"{\"a\":1}!@#$%^!{\"b\""]);
    assert_eq!(decoded, vec![Ok(b"{\"a\":1}".to_vec()), Err(FrameError::Truncated { len: 4 })]);
}

#[test]
fn empty_frames_are_skipped() {
    let decoded = decode_chunks(&Framing::default(), 1024, &[b"!@#$%^!\n!@#$%^!{}!@#$%^!"]);
    assert_eq!(decoded, ok(&["{}"]));
}

#[test]
fn encoder_escapes_a_delimiter_inside_a_json_string() {
    let payload = br#"{"text":"a!@#$%^!b"}"#.to_vec();
    let stream = encode_all(&Framing::default(), std::slice::from_ref(&payload));
    let frames = decode_chunks(&Framing::default(), 1024, &[&stream]);
    assert_eq!(frames.len(), 1);
    let frame = frames[0].clone().unwrap();
    let value: serde_json::Value = serde_json::from_slice(&frame).unwrap();
    assert_eq!(value["text"], "a!@#$%^!b");
}

#[test]
fn lines_strip_carriage_returns_and_skip_blank_lines() {
    let decoded = decode_chunks(&Framing::Lines, 1024, &[b"{\"a\":1}\r\n\n{\"b\":2}\n"]);
    assert_eq!(decoded, ok(&["{\"a\":1}", "{\"b\":2}"]));
}

#[test]
fn lines_refuse_payloads_with_newlines() {
    let codec = FrameCodec::new(&Framing::Lines, 1024);
    let error = codec.encode(b"a\nb".as_slice(), &mut BytesMut::new()).unwrap_err();
    assert_eq!(error, FrameError::DelimiterInPayload);
}

#[test]
fn length_prefixed_u16_and_u32() {
    for framing in [Framing::LengthPrefixed(PrefixWidth::U16), Framing::LengthPrefixed(PrefixWidth::U32)] {
        let stream = encode_all(&framing, &[b"one".to_vec(), Vec::new(), b"three".to_vec()]);
        let decoded = decode_chunks(&framing, 1024, &[&stream]);
        assert_eq!(decoded, ok(&["one", "", "three"]), "{framing}");
    }
}

#[test]
fn length_prefixed_oversized_frame_is_skipped_without_buffering() {
    let framing = Framing::LengthPrefixed(PrefixWidth::U32);
    let mut stream = 100_000u32.to_be_bytes().to_vec();
    stream.extend(std::iter::repeat_n(b'z', 100_000));
    stream.extend(encode_all(&framing, &[b"next".to_vec()]));
    let chunks: Vec<&[u8]> = stream.chunks(4096).collect();
    let decoded = decode_chunks(&framing, 1000, &chunks);
    assert_eq!(decoded, vec![Err(FrameError::TooLarge { size: 100_000, max: 1000 }), Ok(b"next".to_vec())]);
}

#[test]
fn u16_encoder_refuses_what_does_not_fit() {
    let codec = FrameCodec::new(&Framing::LengthPrefixed(PrefixWidth::U16), DEFAULT_MAX_FRAME);
    let error = codec.encode(vec![0u8; 70_000].as_slice(), &mut BytesMut::new()).unwrap_err();
    assert_eq!(error, FrameError::TooLarge { size: 70_000, max: 65_535 });
}

#[test]
fn framing_names_round_trip() {
    for name in ["delimiter:!@#$%^!", "lines", "u16be", "u32be", "delimiter:END"] {
        assert_eq!(name.parse::<Framing>().unwrap().to_string(), name);
    }
    assert_eq!("delimiter".parse::<Framing>().unwrap(), Framing::default());
    assert!("u64le".parse::<Framing>().unwrap_err().contains("unknown framing"));
    assert!("delimiter:".parse::<Framing>().is_err());
}

fn framings() -> impl Strategy<Value = Framing> {
    prop_oneof![
        Just(Framing::default()),
        Just(Framing::Lines),
        Just(Framing::Delimiter(b"||".to_vec())),
        Just(Framing::LengthPrefixed(PrefixWidth::U16)),
        Just(Framing::LengthPrefixed(PrefixWidth::U32)),
    ]
}

/// JSON-ish payloads: compact, never blank, any text inside the string.
fn json_payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        any::<String>().prop_map(|text| serde_json::to_vec(&serde_json::json!({ "text": text })).unwrap()),
        0..12,
    )
}

proptest! {
    #[test]
    fn any_split_of_a_valid_stream_decodes_to_the_same_frames(
        framing in framings(),
        payloads in json_payloads(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let stream = encode_all(&framing, &payloads);
        let mut points: Vec<usize> = cuts.iter().map(|cut| cut.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for point in points {
            chunks.push(&stream[start..point]);
            start = point;
        }
        chunks.push(&stream[start..]);

        let decoded = decode_chunks(&framing, DEFAULT_MAX_FRAME, &chunks);
        let values: Vec<serde_json::Value> = decoded
            .into_iter()
            .map(|frame| serde_json::from_slice(&frame.expect("valid frame")).expect("valid JSON"))
            .collect();
        let expected: Vec<serde_json::Value> =
            payloads.iter().map(|payload| serde_json::from_slice(payload).unwrap()).collect();
        prop_assert_eq!(values, expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        framing in framings(),
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20),
    ) {
        let chunk_refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        for frame in decode_chunks(&framing, 256, &chunk_refs).into_iter().flatten() {
            prop_assert!(frame.len() <= 256);
        }
    }
}
