//! Running one test in a process of its own, for what the other tests of
//! this binary, running on other threads, would disturb: the process's
//! memory.

/// Set in the child process.
const CHILD: &str = "GAMEBRIDGE_FAULTS_OWN_PROCESS";

/// Whether the test `path` (e.g. `sse::its_name`) should run its body here:
/// true in the child; in the parent, runs this test binary again with only
/// that test, checks it passed, and returns false.
pub async fn run_here(path: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let output = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([path, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .await
        .expect("run the test binary again");
    assert!(
        output.status.success(),
        "{path} failed in its own process:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "{path} did not run in its own process"
    );
    false
}

/// The process's resident memory, in bytes (Linux).
pub fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux)");
    let kilobytes = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|value| value.trim().parse::<u64>().ok())
        .expect("VmRSS in /proc/self/status");
    kilobytes * 1024
}
