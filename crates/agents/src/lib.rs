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
mod python;
pub mod rules;
mod webhook;

pub use decision::Decision;
pub use webhook::WebhookDispatch;

/// The one HTTP client setup for every call the bridge makes to an agent
/// (webhooks, LLM backends). Redirects are never followed: the host an
/// agent's URL names was checked against the owner's policy when it was
/// registered, and a `307 Location: elsewhere` must not carry game data (or
/// an API key) past that check. A redirect answer is a failure instead.
fn outgoing_client() -> reqwest::Client {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("gamebridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("an HTTP client without TLS always builds")
}
