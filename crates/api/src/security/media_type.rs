//! Request bodies must be declared JSON. A browser sends a cross-origin
//! request without asking first (a CORS preflight) only when its body is
//! `text/plain`, form data or a form upload; a JSON content type always
//! needs the preflight, which the bridge never grants without `--cors`.
//! Requiring it keeps that door shut even for a request whose origin
//! could not be told.
//!
//! Requests without a body pass whatever they say: the Vox Deorum clients
//! send bodiless `POST /external/pause` with no content type, and undici
//! declares JSON on every request, bodies or not.

use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};

/// Why a request's body is refused, or `None` when it may pass.
pub fn refusal(request: &Request) -> Option<String> {
    let headers = request.headers();
    let declared = headers.get(CONTENT_TYPE).map(|value| value.to_str().unwrap_or("(not text)"));
    if declared.is_some_and(is_json) {
        return None;
    }
    let length =
        headers.get(CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.trim().parse::<u64>().ok());
    let has_body = length.is_some_and(|length| length > 0) || headers.contains_key(TRANSFER_ENCODING);
    if !has_body {
        return None;
    }
    let declared = declared.map_or_else(
        || "the request body has no Content-Type".to_owned(),
        |declared| format!("the request body is {declared}"),
    );
    Some(format!(
        "{declared}; send JSON with Content-Type: application/json (curl: --json '{{...}}' instead of -d)"
    ))
}

/// `application/json` or `application/…+json`, with parameters or not.
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else { return false };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().method("POST").uri("/lua/call");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn json_bodies_pass() {
        for kind in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ] {
            assert_eq!(refusal(&request(&[("content-type", kind), ("content-length", "2")])), None, "{kind}");
        }
    }

    #[test]
    fn bodiless_requests_pass() {
        assert_eq!(refusal(&request(&[])), None);
        assert_eq!(refusal(&request(&[("content-length", "0")])), None);
        assert_eq!(refusal(&request(&[("content-type", "text/plain"), ("content-length", "0")])), None);
    }

    #[test]
    fn other_bodies_are_refused() {
        for kind in
            ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "json"]
        {
            let refused = refusal(&request(&[("content-type", kind), ("content-length", "10")]));
            assert!(refused.is_some_and(|message| message.contains(kind)), "{kind}");
        }
        assert!(refusal(&request(&[("content-length", "10")])).is_some(), "no content type");
        assert!(refusal(&request(&[("transfer-encoding", "chunked")])).is_some(), "chunked, no content type");
    }
}
