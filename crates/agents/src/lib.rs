//! Built-in agents: ways for the bridge to answer what games ask.
//!
//! - [`WebhookDispatch`]: POSTs external calls and lockstep frames to the
//!   URL an agent registered, as the Vox Deorum bridge does.
//! - [`arena`]: Agent Arena's ticks, decided concurrently with deadlines.
//! - [`rules`]: Agent Arena's rule-based fallback.
//! - [`llm`]: an OpenAI-compatible chat-completions backend.

pub mod arena;
mod decision;
pub mod llm;
pub mod rules;
mod webhook;

pub use decision::Decision;
pub use webhook::WebhookDispatch;
