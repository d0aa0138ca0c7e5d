//! Bridge → game frames (what a Rust game parses): never a panic, and a
//! parsed message round-trips.
#![no_main]

use gamebridge_protocol::BridgeMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = BridgeMessage::parse(data) {
        BridgeMessage::parse(&message.to_json()).expect("round trip");
    }
});
