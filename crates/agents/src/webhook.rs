//! External calls delivered over HTTP: `POST {args, id}` to the registered
//! URL, with one shared client so connections to an agent are reused.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use gamebridge_hub::{
    DispatchFuture, ExternalDispatch, ExternalFunction, ExternalRequest, StepFuture, StepRequest,
};
use gamebridge_protocol::{CallResult, ErrorBody, ErrorCode, RawValue, WireId};
use serde::{Deserialize, Serialize};

pub struct WebhookDispatch {
    client: reqwest::Client,
}

impl WebhookDispatch {
    pub fn new() -> Self {
        Self { client: crate::outgoing_client() }
    }
}

impl Default for WebhookDispatch {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Serialize)]
struct CallBody<'a> {
    args: &'a RawValue,
    id: &'a WireId,
}

impl WebhookDispatch {
    /// POSTs `body` to the function's URL and returns the answer's bytes.
    async fn post(
        client: reqwest::Client,
        function: &ExternalFunction,
        body: impl Serialize,
    ) -> Result<Bytes, ErrorBody> {
        let url = function.url().unwrap_or_default();
        let response = client
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|error| network_error(function, &error.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(network_error(function, &format!("the agent answered HTTP {status}")));
        }
        response.bytes().await.map_err(|error| network_error(function, &error.without_url().to_string()))
    }
}

/// `{id, args: {game, seq, frame, fields?}}`: a lockstep frame for a webhook
/// agent, base64 in JSON, and decoded when the game has a frame spec.
#[derive(Serialize)]
struct StepBody<'a> {
    id: String,
    args: StepArgs<'a>,
}

#[derive(Serialize)]
struct StepArgs<'a> {
    game: &'a str,
    seq: u64,
    frame: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

impl ExternalDispatch for WebhookDispatch {
    fn call(&self, function: Arc<ExternalFunction>, request: ExternalRequest) -> DispatchFuture {
        let client = self.client.clone();
        Box::pin(async move {
            let body = CallBody { args: &request.args, id: &request.id };
            interpret(&Self::post(client, &function, body).await?)
        })
    }

    fn step(&self, function: Arc<ExternalFunction>, request: StepRequest) -> StepFuture {
        let client = self.client.clone();
        Box::pin(async move {
            let body = StepBody {
                id: format!("{}#{}", request.game, request.seq),
                args: StepArgs {
                    game: &request.game,
                    seq: request.seq,
                    frame: BASE64.encode(&request.frame),
                    fields: request.fields.as_ref(),
                },
            };
            let result = interpret(&Self::post(client, &function, body).await?)?;
            decode_reply(result.get())
        })
    }
}

/// The `reply` of a step answer `{reply: BASE64}`.
fn decode_reply(result: &str) -> Result<Bytes, ErrorBody> {
    #[derive(Deserialize)]
    struct Reply {
        reply: String,
    }
    let reply: Reply = serde_json::from_str(result).map_err(|_| {
        ErrorBody::new(
            ErrorCode::SERIALIZATION_ERROR,
            "a step answer must be {success:true, result:{reply: BASE64}}",
        )
    })?;
    BASE64.decode(reply.reply.as_bytes()).map(Bytes::from).map_err(|error| {
        ErrorBody::new(ErrorCode::SERIALIZATION_ERROR, format!("the step reply is not base64: {error}"))
    })
}

fn network_error(function: &ExternalFunction, why: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::NETWORK_ERROR,
        format!("external function '{}' at {}: {why}", function.name, function.url().unwrap_or_default()),
    )
}

/// The agent's answer, Vox-style: `{success, result | error}`.
#[derive(Deserialize)]
struct Answer<'a> {
    success: Option<bool>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    error: Option<ErrorBody>,
}

/// Reads an agent's answer. The envelope `{success, result | error}` is
/// unwrapped; any other JSON is taken as the result itself.
pub fn interpret(body: &[u8]) -> CallResult {
    let text = std::str::from_utf8(body)
        .map_err(|_| ErrorBody::new(ErrorCode::SERIALIZATION_ERROR, "the agent's answer is not UTF-8"))?;
    match serde_json::from_str::<Answer<'_>>(text) {
        Ok(Answer { success: Some(true), result, .. }) => {
            Ok(result.map_or_else(gamebridge_protocol::message::null, RawValue::to_owned))
        }
        Ok(Answer { success: Some(false), error, .. }) => Err(error.unwrap_or_else(|| {
            ErrorBody::new(ErrorCode::CALL_FAILED, "the agent reported a failure without details")
        })),
        _ => RawValue::from_string(text.trim().to_owned()).map_err(|error| {
            ErrorBody::new(ErrorCode::SERIALIZATION_ERROR, format!("the agent's answer is not JSON: {error}"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_are_unwrapped() {
        assert_eq!(
            interpret(br#"{"success":true,"result":{"threat":"high"}}"#).unwrap().get(),
            r#"{"threat":"high"}"#
        );
        assert_eq!(interpret(br#"{"success":true}"#).unwrap().get(), "null");
        let error =
            interpret(br#"{"success":false,"error":{"code":"BUSY","message":"thinking"}}"#).unwrap_err();
        assert_eq!((error.code.as_str(), error.message.as_str()), ("BUSY", "thinking"));
        assert_eq!(interpret(br#"{"success":false}"#).unwrap_err().code, ErrorCode::CALL_FAILED);
    }

    #[test]
    fn other_json_is_the_result() {
        assert_eq!(interpret(b"[1, 2]").unwrap().get(), "[1, 2]");
        assert_eq!(interpret(br#"{"move":"north"}"#).unwrap().get(), r#"{"move":"north"}"#);
        assert_eq!(interpret(b" 42\n").unwrap().get(), "42");
    }

    #[test]
    fn step_replies_are_base64() {
        assert_eq!(&decode_reply(r#"{"reply":"AQIDBAU="}"#).unwrap()[..], &[1, 2, 3, 4, 5]);
        assert_eq!(decode_reply(r#"{"reply":"***"}"#).unwrap_err().code, ErrorCode::SERIALIZATION_ERROR);
        assert_eq!(decode_reply(r#"[1]"#).unwrap_err().code, ErrorCode::SERIALIZATION_ERROR);
    }

    #[test]
    fn non_json_is_a_serialization_error() {
        assert_eq!(interpret(b"<html>oops</html>").unwrap_err().code, ErrorCode::SERIALIZATION_ERROR);
        assert_eq!(interpret(&[0xff, 0xfe]).unwrap_err().code, ErrorCode::SERIALIZATION_ERROR);
    }
}
