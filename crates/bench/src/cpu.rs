//! Where the machine's CPU time went during a measurement, by the processes that spent
//! it: the Docker engine, the services, the api and the worker, the baseline's Docker
//! CLI. At concurrency 4 both sides of the pipeline bench keep every core busy, so CPU
//! time per run, not waiting, is what bounds their throughput.

use std::collections::BTreeMap;

/// Linux counts process CPU time in clock ticks of 10 ms (`getconf CLK_TCK` is 100 on
/// every architecture Debian ships).
const TICK_MS: f64 = 10.0;

/// CPU time consumed so far: the whole machine's, and each live process's with its
/// reaped children's.
pub struct Snapshot {
    busy_ticks: u64,
    processes: BTreeMap<u32, (&'static str, u64)>,
}

/// Who a process is, by the name the kernel gives it (`comm`, at most 15 bytes).
fn group(comm: &str) -> Option<&'static str> {
    Some(match comm {
        "dockerd" => "dockerd",
        "containerd" => "containerd",
        "containerd-shim" | "runc" => "shims and runc",
        "postgres" => "postgresql",
        "beam.smp" | "erl_child_setup" | "inet_gethost" | "epmd" => "rabbitmq",
        "redis-server" => "redis",
        "sage-api" => "api",
        "sage-worker" => "worker",
        // The bench reaps the `docker` CLI processes of the baseline, so its reaped
        // children's time is mostly theirs (its own client work is not counted).
        "sage-bench" => "docker cli (bench's children)",
        _ => return None,
    })
}

impl Snapshot {
    pub fn take() -> Self {
        Self {
            busy_ticks: busy_ticks(),
            processes: processes(),
        }
    }

    /// CPU milliseconds per unit of work since `earlier`, by group, with the rest of
    /// the machine's (processes that came and went: runc, shims, the scripts
    /// themselves; the kernel's own work) as "other", and the total.
    pub fn per_unit_since(&self, earlier: &Snapshot, units: usize) -> Vec<(&'static str, f64)> {
        let mut by_group: BTreeMap<&'static str, u64> = BTreeMap::new();
        for (pid, (name, ticks)) in &self.processes {
            let before = match earlier.processes.get(pid) {
                Some((same, before)) if same == name => *before,
                _ => 0,
            };
            *by_group.entry(name).or_default() += ticks.saturating_sub(before);
        }
        let total = self.busy_ticks.saturating_sub(earlier.busy_ticks);
        let counted: u64 = by_group.values().sum();
        let per_unit = |ticks: u64| ticks as f64 * TICK_MS / units as f64;
        let mut rows: Vec<_> = by_group
            .into_iter()
            .filter(|(_, ticks)| *ticks > 0)
            .map(|(name, ticks)| (name, per_unit(ticks)))
            .collect();
        rows.push(("other", per_unit(total.saturating_sub(counted))));
        rows.push(("total", per_unit(total)));
        rows
    }
}

/// Busy ticks of all cores together since boot (`/proc/stat`: all but idle and
/// iowait).
fn busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat reads");
    let cpu = stat
        .lines()
        .next()
        .expect("/proc/stat starts with the cpu line");
    cpu.split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse::<u64>().ok())
        .enumerate()
        // user nice system idle iowait irq softirq steal (guest time is in user).
        .filter(|(index, _)| ![3, 4].contains(index) && *index < 8)
        .map(|(_, ticks)| ticks)
        .sum()
}

/// Each live process of a known group: its CPU ticks and its reaped children's.
fn processes() -> BTreeMap<u32, (&'static str, u64)> {
    let mut found = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        // A process may end between the listing and the read.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some(process) = parse_stat(&stat) {
            found.insert(pid, process);
        }
    }
    found
}

/// `pid (comm) state ppid … utime stime cutime cstime …`: the name sits in parentheses
/// and may hold spaces, so the fields are counted from its closing one.
fn parse_stat(stat: &str) -> Option<(&'static str, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = group(&stat[open + 1..close])?;
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    // After the name: state is field 3 of the line, utime 14 … cstime 17.
    let ticks = fields
        .get(11..15)?
        .iter()
        .map(|field| field.parse::<u64>().ok())
        .sum::<Option<u64>>()?;
    Some((name, ticks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_the_group_and_all_four_times() {
        let line = "4242 (sage-worker) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    120 30 5 7 20 0 6 0 1000 100000 500 18446744073709551615";
        assert_eq!(parse_stat(line), Some(("worker", 162)));
        assert_eq!(parse_stat("7 (bash) S 1 7"), None);
        let spaced = "9 (containerd-shim) S 1 9 9 0 -1 0 0 0 0 0 1 2 3 4 20";
        assert_eq!(parse_stat(spaced), Some(("shims and runc", 10)));
    }
}
