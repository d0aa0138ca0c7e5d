//! Game → bridge frames: any bytes parse to a message or an error, never a
//! panic, including the control-character repair; a parsed message
//! re-encodes to JSON that parses again.
#![no_main]

use gamebridge_protocol::GameMessage;
use gamebridge_protocol::json::escape_control_chars;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let repaired = escape_control_chars(data);
    if serde_json::from_slice::<serde_json::Value>(data).is_ok() {
        // Valid JSON stays valid after repair.
        serde_json::from_slice::<serde_json::Value>(&repaired).expect("repair keeps JSON valid");
    }
    if let Ok(message) = GameMessage::parse(data) {
        let json = message.to_json();
        GameMessage::parse(&json).expect("what the bridge writes, it reads");
    }
});
