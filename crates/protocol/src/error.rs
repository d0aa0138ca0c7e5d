//! Error codes and the error body shared by the pipe protocol and the REST
//! envelope (`{success:false, error:{code, message, details?}}`).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The outcome of a call: the game's JSON result, or an error body.
pub type CallResult = Result<Box<RawValue>, ErrorBody>;

/// An error code such as `DLL_DISCONNECTED`.
///
/// Kept as a string rather than a closed enum because games send their own
/// codes in `lua_response` errors and those must reach the agent unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ErrorCode(Cow<'static, str>);

macro_rules! codes {
    ($($name:ident),* $(,)?) => {
        impl ErrorCode {
            $(pub const $name: ErrorCode = ErrorCode(Cow::Borrowed(stringify!($name)));)*
            /// Every code the bridge itself produces (the README lists them).
            pub const ALL: &'static [ErrorCode] = &[$(Self::$name),*];
        }
    };
}

codes!(
    DLL_DISCONNECTED,
    LUA_EXECUTION_ERROR,
    CALL_TIMEOUT,
    CALL_FAILED,
    INVALID_FUNCTION,
    INVALID_SCRIPT,
    INVALID_ARGUMENTS,
    NETWORK_ERROR,
    SERIALIZATION_ERROR,
    INTERNAL_ERROR,
    NOT_FOUND,
    TOO_MANY_CALLS,
);

impl ErrorCode {
    pub fn new(code: impl Into<Cow<'static, str>>) -> Self {
        Self(code.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `{code, message, details?}`: why a call or request failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// Games sometimes send only a code; an absent message reads as empty.
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), details: None }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ErrorBody {}
