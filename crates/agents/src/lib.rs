//! Built-in agents: ways for the bridge to answer a game's external calls.
//!
//! For now the webhook caller, which POSTs each call to the URL an agent
//! registered (`POST /external/register`), as the Vox Deorum bridge does.

mod webhook;

pub use webhook::WebhookDispatch;
