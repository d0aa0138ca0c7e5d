//! The routes an Agent Arena game itself calls, and what they may do
//! without the token.
//!
//! The unchanged Godot client cannot send a token, so with `--token` these
//! routes stay open to requests from where the game runs: this machine, or
//! an address the owner named (`--allow-game-peer`). Nothing else is open
//! to them. A request served that way is marked [`GameOnly`]: it sees the
//! arena game only (`/health` answers for it, not for the default game),
//! and it cannot change how agents decide (no `backend` on
//! `/agents/register`). None of these routes runs code in a game. What they
//! can accumulate is bounded (agents per tick, registered agents).

/// The Godot client's own calls: `GET /health`, `POST /tick`, `/observe`,
/// `/experience`, `/tools/execute`, `GET /tools/list`, `POST
/// /agents/register`, `GET /metrics`.
pub const GAME_ROUTES: &[&str] = &[
    "/health",
    "/tick",
    "/observe",
    "/experience",
    "/tools/execute",
    "/tools/list",
    "/agents/register",
    "/metrics",
];

pub fn is_game_route(path: &str) -> bool {
    GAME_ROUTES.contains(&path)
}

/// Marks a request the guard let through without the token, as the game's.
#[derive(Clone, Copy, Debug)]
pub struct GameOnly;
