//! A progress line on standard error while a benchmark runs: which
//! measurement is under way and how long the run has taken. It draws only
//! on a terminal, so JSON on standard output and captured test output stay
//! clean.
//!
//! One bar per process, reachable from every measurement without threading
//! a handle through each scenario: `gamebridge bench` runs one scenario and
//! exits.

use std::sync::OnceLock;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static BAR: OnceLock<ProgressBar> = OnceLock::new();

/// The message before the first measurement.
const SETTING_UP: &str = "setting up";

/// Starts the line for `scenario`.
pub fn start(scenario: &str) {
    let style =
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] bench {prefix}: {pos} done, now {msg}")
            .expect("a valid progress template");
    let bar =
        ProgressBar::hidden().with_style(style).with_prefix(scenario.to_owned()).with_message(SETTING_UP);
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let _ = BAR.set(bar);
}

/// Turns the line into a bar of `stages` measurements, when a scenario knows
/// how many it will make.
pub fn expect(stages: u64) {
    if let Some(bar) = BAR.get() {
        bar.set_length(stages);
        let style = ProgressStyle::with_template(
            "[{elapsed_precise}] bench {prefix} {bar:30} {pos}/{len} (eta {eta}), now {msg}",
        )
        .expect("a valid progress template");
        bar.set_style(style);
    }
}

/// Marks the start of the measurement `label`, and the end of the one before.
pub fn stage(label: &str) {
    if let Some(bar) = BAR.get() {
        if bar.message() != SETTING_UP {
            bar.inc(1);
        }
        bar.set_message(label.to_owned());
    }
}

/// Clears the line before the report is printed.
pub fn finish() {
    if let Some(bar) = BAR.get() {
        bar.finish_and_clear();
    }
}
