//! The CPU the bridge uses, apart from the benchmark around it: the bridge
//! runs in this process on runtime threads of its own name, so its CPU is
//! the sum of those threads' user and system time in /proc. The benchmark's
//! readers, the producer game and whatever else runs on the machine are not
//! counted, so the figure holds on a machine shared with other work, where
//! rates do not.

use std::time::Instant;

use anyhow::Context;

/// The name of the bridge's runtime threads, whose CPU is measured.
pub const BRIDGE_THREADS: &str = "bench-bridge";

/// The bridge's CPU, in cores, while `work` runs, and what `work` returned.
pub async fn bridge_cpu_while<T>(work: impl Future<Output = T>) -> anyhow::Result<(f64, T)> {
    let (cpu_before, started) = (threads_cpu_seconds(BRIDGE_THREADS)?, Instant::now());
    let outcome = work.await;
    let (cpu_after, elapsed) = (threads_cpu_seconds(BRIDGE_THREADS)?, started.elapsed());
    Ok(((cpu_after - cpu_before) / elapsed.as_secs_f64(), outcome))
}

/// User and system CPU seconds so far of this process's threads named `name`.
pub fn threads_cpu_seconds(name: &str) -> anyhow::Result<f64> {
    let tasks = std::fs::read_dir("/proc/self/task").context("thread CPU is read from /proc (Linux)")?;
    let mut ticks = 0;
    for task in tasks.flatten() {
        // A thread may end between the listing and the read: it is skipped.
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        if let Some((thread, used)) = parse_stat(&stat)
            && thread == name
        {
            ticks += used;
        }
    }
    // /proc counts in USER_HZ, 100 per second on every Linux.
    Ok(ticks as f64 / 100.0)
}

/// A thread's name and its user plus system ticks, from its `stat` line.
fn parse_stat(stat: &str) -> Option<(&str, u64)> {
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let name = stat.get(open + 1..close)?;
    let fields: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
    let ticks = |index: usize| fields.get(index)?.parse::<u64>().ok();
    Some((name, ticks(11)? + ticks(12)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_threads_name_and_ticks_come_from_its_stat_line() {
        let stat = "4242 (bench-bridge) S 1 2 3 4 5 6 7 8 9 10 125 37 0 0 20 0 1 0 100 0 0";
        assert_eq!(parse_stat(stat), Some(("bench-bridge", 162)));
        assert_eq!(parse_stat("4242 (odd) name) R 1 2 3 4 5 6 7 8 9 10 1 2"), Some(("odd) name", 3)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 ) odd ( S"), None);
    }
}
