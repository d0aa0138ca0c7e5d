//! The Lua SDK's own test suite (lua/tests/run.lua) on the system
//! interpreters the SDK supports. CI installs them (.ci/run); on a machine
//! without one, that interpreter is reported and skipped, except under CI.

use std::path::Path;
use std::process::Command;

const INTERPRETERS: &[&str] = &["lua5.1", "lua5.4", "luajit"];

fn run_suite(interpreter: &str) {
    let lua = Path::new(env!("CARGO_MANIFEST_DIR")).join("lua");
    let output = match Command::new(interpreter).arg("tests/run.lua").current_dir(&lua).output() {
        Ok(output) => output,
        Err(_) if std::env::var("CI").is_err() => {
            eprintln!("{interpreter} is not installed; skipped (CI installs it)");
            return;
        }
        Err(error) => panic!("{interpreter} must be installed in CI: {error}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        output.status.success() && summary.ends_with(" passed, 0 failed"),
        "{interpreter}: {summary}\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn lua_5_1() {
    run_suite(INTERPRETERS[0]);
}

#[test]
fn lua_5_4() {
    run_suite(INTERPRETERS[1]);
}

#[test]
fn luajit() {
    run_suite(INTERPRETERS[2]);
}
