//! External calls delivered over HTTP: `POST {args, id}` to the registered
//! URL, with one shared client so connections to an agent are reused.

use std::sync::Arc;

use gamebridge_hub::{DispatchFuture, ExternalDispatch, ExternalFunction, ExternalRequest};
use gamebridge_protocol::{CallResult, ErrorBody, ErrorCode, RawValue, WireId};
use serde::{Deserialize, Serialize};

pub struct WebhookDispatch {
    client: reqwest::Client,
}

impl WebhookDispatch {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .user_agent(concat!("gamebridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client without TLS always builds");
        Self { client }
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

impl ExternalDispatch for WebhookDispatch {
    fn call(&self, function: Arc<ExternalFunction>, request: ExternalRequest) -> DispatchFuture {
        let client = self.client.clone();
        Box::pin(async move {
            let body = CallBody { args: &request.args, id: &request.id };
            let response = client
                .post(&function.url)
                .json(&body)
                .send()
                .await
                .map_err(|error| network_error(&function, &error.without_url().to_string()))?;
            let status = response.status();
            if !status.is_success() {
                return Err(network_error(&function, &format!("the agent answered HTTP {status}")));
            }
            let bytes = response
                .bytes()
                .await
                .map_err(|error| network_error(&function, &error.without_url().to_string()))?;
            interpret(&bytes)
        })
    }
}

fn network_error(function: &ExternalFunction, why: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::NETWORK_ERROR,
        format!("external function '{}' at {}: {why}", function.name, function.url),
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
    fn non_json_is_a_serialization_error() {
        assert_eq!(interpret(b"<html>oops</html>").unwrap_err().code, ErrorCode::SERIALIZATION_ERROR);
        assert_eq!(interpret(&[0xff, 0xfe]).unwrap_err().code, ErrorCode::SERIALIZATION_ERROR);
    }
}
