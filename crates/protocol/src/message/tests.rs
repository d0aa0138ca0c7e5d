use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn to_value(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn lua_call_serializes_as_the_dll_expects() {
    let message = BridgeMessage::LuaCall {
        id: WireId::Text("7".into()),
        function: "MoveUnit".into(),
        args: RawValue::from_string("[5,10,12]".into()).unwrap(),
    };
    assert_eq!(
        to_value(&message.to_json()),
        json!({"type": "lua_call", "id": "7", "function": "MoveUnit", "args": [5, 10, 12]})
    );
}

#[test]
fn control_messages_use_the_reference_field_names() {
    let cases = [
        (BridgeMessage::PausePlayer { player_id: 2 }, json!({"type": "pause_player", "playerID": 2})),
        (BridgeMessage::ClearPausedPlayers {}, json!({"type": "clear_paused_players"})),
        (
            BridgeMessage::ExternalRegister { name: "Analyze".into(), is_async: true },
            json!({"type": "external_register", "name": "Analyze", "async": true}),
        ),
        (
            BridgeMessage::SetProductionMode { enabled: true },
            json!({"type": "set_production_mode", "enabled": true}),
        ),
    ];
    for (message, expected) in cases {
        assert_eq!(to_value(&message.to_json()), expected);
        let reparsed = BridgeMessage::parse(&message.to_json()).unwrap();
        assert_eq!(to_value(&reparsed.to_json()), expected);
    }
}

#[test]
fn every_game_message_parses() {
    let frames = [
        r#"{"type":"lua_response","id":"1","success":true,"result":{"turn":5}}"#,
        r#"{"type":"lua_register","function":"GetCity","description":"Gets a city"}"#,
        r#"{"type":"lua_unregister","function":"GetCity"}"#,
        r#"{"type":"lua_clear"}"#,
        r#"{"type":"external_call","function":"Analyze","args":{"unitId":5},"id":"e1","async":true}"#,
        r#"{"type":"game_event","id":1000001,"event":"turnStart","payload":{"turn":1},"visibility":[1,0]}"#,
    ];
    for frame in frames {
        let message = GameMessage::parse(frame.as_bytes()).unwrap();
        assert_eq!(to_value(&message.to_json()), to_value(frame.as_bytes()), "{frame}");
    }
}

#[test]
fn lua_response_failure_carries_the_games_error() {
    let frame = br#"{"type":"lua_response","id":"9","success":false,"error":{"code":"LUA_EXECUTION_ERROR","message":"boom"}}"#;
    let GameMessage::LuaResponse(response) = GameMessage::parse(frame).unwrap() else {
        panic!("not a response")
    };
    let error = response.into_result().unwrap_err();
    assert_eq!(error.code, ErrorCode::LUA_EXECUTION_ERROR);
    assert_eq!(error.message, "boom");
}

#[test]
fn failure_without_error_body_is_a_lua_execution_error() {
    let response = Response { id: WireId::Number(1), success: false, result: None, error: None };
    assert_eq!(response.into_result().unwrap_err().code, ErrorCode::LUA_EXECUTION_ERROR);
}

#[test]
fn success_without_result_is_null() {
    let response = Response { id: WireId::Number(1), success: true, result: None, error: None };
    assert_eq!(response.into_result().unwrap().get(), "null");
}

#[test]
fn unknown_game_error_codes_pass_through() {
    let frame = br#"{"type":"lua_response","id":"9","success":false,"error":{"code":"UNIT_BUSY"}}"#;
    let GameMessage::LuaResponse(response) = GameMessage::parse(frame).unwrap() else {
        panic!("not a response")
    };
    assert_eq!(response.into_result().unwrap_err().code.as_str(), "UNIT_BUSY");
}

#[test]
fn raw_control_characters_from_the_dll_are_repaired() {
    let frame = b"{\"type\":\"game_event\",\"event\":\"chat\",\"payload\":{\"text\":\"hi\x01there\"}}";
    let GameMessage::GameEvent(event) = GameMessage::parse(frame).unwrap() else { panic!("not an event") };
    assert_eq!(to_value(event.payload.unwrap().get().as_bytes())["text"], "hi\u{1}there");
}

#[test]
fn events_pass_through_as_the_game_sent_them() {
    let render = |frame: &str| {
        let GameMessage::GameEvent(event) = GameMessage::parse(frame.as_bytes()).unwrap() else {
            panic!("{frame}")
        };
        String::from_utf8(serde_json::to_vec(&event).unwrap()).unwrap()
    };
    // No payload stays without one; explicit nulls stay null.
    assert_eq!(render(r#"{"type":"game_event","event":"A"}"#), r#"{"event":"A"}"#);
    assert_eq!(
        render(r#"{"type":"game_event","event":"A","payload":null,"extraPayload":null,"visibility":null}"#),
        r#"{"event":"A","payload":null,"extraPayload":null,"visibility":null}"#
    );
    // Ids and names of other types, and no name at all.
    assert_eq!(
        render(r#"{"type":"game_event","id":1.5,"event":7,"payload":{}}"#),
        r#"{"id":1.5,"event":7,"payload":{}}"#
    );
    assert_eq!(
        render(r#"{"type":"game_event","id":{"turn":3},"payload":[]}"#),
        r#"{"id":{"turn":3},"payload":[]}"#
    );
    // A call's id must still be one the bridge can match.
    assert!(GameMessage::parse(br#"{"type":"lua_response","id":1.5,"success":true}"#).is_err());
}

#[test]
fn malformed_frames_are_errors() {
    assert!(matches!(GameMessage::parse(b"not json"), Err(ParseError::Json(_))));
    assert!(
        matches!(GameMessage::parse(br#"{"type":"warp_drive"}"#), Err(ParseError::UnknownType(kind)) if kind == "warp_drive")
    );
    assert!(matches!(
        GameMessage::parse(br#"{"type":"lua_response","success":true}"#),
        Err(ParseError::MissingField { kind: "lua_response", field: "id" })
    ));
    assert!(GameMessage::parse(br#"{"id":"1"}"#).is_err());
}

#[test]
fn numeric_ids_are_echoed_as_numbers() {
    let frame = br#"{"type":"external_call","function":"F","args":[],"id":42,"async":false}"#;
    let GameMessage::ExternalCall { id, .. } = GameMessage::parse(frame).unwrap() else {
        panic!("not a call")
    };
    let reply = BridgeMessage::ExternalResponse(Response::from_result(id, Ok(null())));
    assert_eq!(to_value(&reply.to_json())["id"], json!(42));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_parsers(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = GameMessage::parse(&bytes);
        let _ = BridgeMessage::parse(&bytes);
    }

    #[test]
    fn arbitrary_text_in_events_survives_control_char_repair(
        text in prop_oneof![any::<String>(), "[\\x00-\\x1f\"\\\\nu a-z]{0,40}"],
    ) {
        // Write the string into JSON as the DLL does: quotes and backslashes
        // escaped, control characters left raw.
        let mut raw_text = String::from("\"");
        for c in text.chars() {
            match c {
                '"' => raw_text.push_str("\\\""),
                '\\' => raw_text.push_str("\\\\"),
                c => raw_text.push(c),
            }
        }
        raw_text.push('"');
        let frame = format!(r#"{{"type":"game_event","event":"e","payload":{raw_text}}}"#);
        if let Ok(GameMessage::GameEvent(event)) = GameMessage::parse(frame.as_bytes()) {
            let decoded: String = serde_json::from_str(event.payload.as_deref().unwrap().get()).unwrap();
            prop_assert_eq!(decoded, text);
        } else {
            prop_assert!(false, "frame did not parse: {frame:?}");
        }
    }
}
