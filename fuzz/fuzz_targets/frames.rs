//! Every framing (delimiter, lines, u16/u32 length prefix) on arbitrary
//! bytes cut into arbitrary reads: no panic, frames within the limit, and a
//! payload encoded then decoded comes back the same.
#![no_main]

use bytes::BytesMut;
use gamebridge_protocol::codec::PrefixWidth;
use gamebridge_protocol::{FrameCodec, Framing};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

const MAX: usize = 512;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let framing = match selector % 5 {
        0 => Framing::default(),
        1 => Framing::Lines,
        2 => Framing::Delimiter(b"||".to_vec()),
        3 => Framing::LengthPrefixed(PrefixWidth::U16),
        _ => Framing::LengthPrefixed(PrefixWidth::U32),
    };
    // Decode in reads of varying size.
    let mut codec = FrameCodec::new(&framing, MAX);
    let mut buffer = BytesMut::new();
    let step = usize::from(selector / 5).max(1);
    for chunk in rest.chunks(step) {
        buffer.extend_from_slice(chunk);
        while let Some(item) = codec.decode(&mut buffer).expect("no I/O error") {
            if let Ok(frame) = item {
                assert!(frame.len() <= MAX);
            }
        }
    }
    while let Some(item) = codec.decode_eof(&mut buffer).expect("no I/O error") {
        if let Ok(frame) = item {
            assert!(frame.len() <= MAX);
        }
    }
    // Round trip: what encodes must decode to the same payload (JSON-escaped
    // delimiters aside, which only apply to JSON text).
    if serde_json::from_slice::<serde_json::Value>(rest).is_ok() && !rest.contains(&b'\n') {
        let encoder = FrameCodec::new(&framing, MAX);
        let mut encoded = BytesMut::new();
        if encoder.encode(rest, &mut encoded).is_ok() {
            let mut decoder = FrameCodec::new(&framing, MAX);
            let frame = decoder.decode_eof(&mut encoded).expect("no I/O error");
            if let Some(Ok(frame)) = frame {
                let back: serde_json::Value = serde_json::from_slice(&frame).expect("still JSON");
                let sent: serde_json::Value = serde_json::from_slice(rest).expect("JSON");
                assert_eq!(back, sent);
            }
        }
    }
});
