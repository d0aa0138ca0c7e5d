//! The bridge's own memory, for `/stats` (the original reported Node's
//! heap there; Vox Deorum dashboards read it).

/// Resident memory in whole megabytes, or 0 where the system does not say
/// (only Linux's `/proc` is read).
pub fn resident_megabytes() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return 0 };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map_or(0, |kilobytes| (kilobytes + 512) / 1024)
}
