//! Pause control of one game: players whose turns pause the game, a manual
//! pause, and production mode — kept here so they can be reported to agents
//! and sent to the game again after it reconnects.

use std::collections::BTreeSet;
use std::sync::Mutex;

use gamebridge_protocol::BridgeMessage;

use crate::turn_mutex::TurnMutex;

/// Player ids the game accepts.
pub const PLAYER_IDS: std::ops::RangeInclusive<i64> = 0..=63;

#[derive(Default)]
pub struct PauseState {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    players: BTreeSet<i64>,
    /// Whose turn it is, from `PlayerDoTurn` / `PlayerDoneTurn` events.
    active_player: Option<i64>,
    manual: bool,
    /// Held while paused by hand (the DLL's `TurnByTurn`, on Windows).
    turn_mutex: Option<TurnMutex>,
    production_mode: Option<bool>,
}

impl PauseState {
    fn with<T>(&self, change: impl FnOnce(&mut Inner) -> T) -> T {
        change(&mut self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Adds (`paused = true`) or removes a player; returns the paused players.
    pub fn set_player(&self, player: i64, paused: bool) -> Vec<i64> {
        self.with(|inner| {
            if paused {
                inner.players.insert(player);
            } else {
                inner.players.remove(&player);
            }
            inner.players.iter().copied().collect()
        })
    }

    pub fn clear_players(&self) {
        self.with(|inner| inner.players.clear());
    }

    pub fn players(&self) -> Vec<i64> {
        self.with(|inner| inner.players.iter().copied().collect())
    }

    pub fn set_manual(&self, paused: bool) {
        self.with(|inner| {
            inner.manual = paused;
            if paused {
                inner.turn_mutex.get_or_insert_with(TurnMutex::hold);
            } else {
                inner.turn_mutex = None;
            }
        });
    }

    /// What another bridge reports: paused or not, and the paused players.
    /// No turn mutex is held for it (that bridge's machine runs the game).
    pub fn mirror(&self, paused: bool, players: &[i64]) {
        self.with(|inner| {
            inner.manual = paused;
            inner.players = players.iter().copied().collect();
        });
    }

    pub fn set_active_player(&self, player: i64) {
        self.with(|inner| inner.active_player = Some(player));
    }

    pub fn set_production_mode(&self, enabled: bool) {
        self.with(|inner| inner.production_mode = Some(enabled));
    }

    /// Paused by hand, or because the player whose turn it is was paused.
    pub fn is_game_paused(&self) -> bool {
        self.with(|inner| {
            inner.manual || inner.active_player.is_some_and(|player| inner.players.contains(&player))
        })
    }

    /// The game forgot its paused players when it disconnected; so do we.
    pub fn on_disconnect(&self) {
        self.with(|inner| {
            inner.players.clear();
            inner.active_player = None;
        });
    }

    /// The messages that bring a (re)connected game up to date.
    pub fn restore_messages(&self) -> Vec<BridgeMessage> {
        self.with(|inner| {
            let mut messages: Vec<BridgeMessage> =
                inner.players.iter().map(|&player_id| BridgeMessage::PausePlayer { player_id }).collect();
            if let Some(enabled) = inner.production_mode {
                messages.push(BridgeMessage::SetProductionMode { enabled });
            }
            if inner.manual {
                messages.push(BridgeMessage::PauseGame {});
            }
            messages
        })
    }
}
