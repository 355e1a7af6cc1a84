//! Load generation and what it measures: [`CONCURRENCY`] clients calling for [`DURATION`]
//! after [`WARMUP`], their latencies and errors ([`Measured`]), the CPU time of a server running
//! as its own process tree ([`CpuProbe`], from `/proc`), and the results table.

use std::collections::HashMap;
use std::future::Future;
use std::process::Command;
use std::time::{Duration, Instant};

/// Concurrent clients per scenario.
pub(crate) const CONCURRENCY: usize = 32;
/// Measured time per scenario.
pub(crate) const DURATION: Duration = Duration::from_secs(10);
/// Unmeasured time before it.
pub(crate) const WARMUP: Duration = Duration::from_secs(2);
/// Clock ticks per second of `/proc/<pid>/stat` when `getconf CLK_TCK` cannot say: Linux's
/// `USER_HZ`, 100 on every common architecture (libc, which would ask `sysconf`, is no
/// dependency of the bench).
const DEFAULT_CLOCK_TICKS: u64 = 100;

/// What one scenario measured.
pub(crate) struct Measured {
    pub(crate) name: &'static str,
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
    /// The server's CPU time over the measured window, when it runs as its own process.
    server_cpu: Option<Duration>,
}

impl Measured {
    pub(crate) fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        self.latencies_us[index] as f64 / 1000.0
    }

    /// The server's CPU time per answered request (errors included: they cost it too), in µs.
    pub(crate) fn cpu_us_per_request(&self) -> Option<f64> {
        let answered = self.requests + self.errors;
        let cpu = self.server_cpu?;
        (answered > 0).then(|| cpu.as_secs_f64() * 1e6 / answered as f64)
    }
}

/// A server process tree whose CPU time the bench reads from `/proc`: the process and all its
/// descendants (oidc-provider's workers), every thread of each.
pub(crate) struct CpuProbe {
    root: u32,
    ticks_per_second: u64,
}

impl CpuProbe {
    pub(crate) fn new(root: u32) -> Self {
        let ticks_per_second = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .filter(|&ticks: &u64| ticks > 0)
            .unwrap_or(DEFAULT_CLOCK_TICKS);
        Self {
            root,
            ticks_per_second,
        }
    }

    /// The fields of `/proc/<pid>/stat` after the command name (which may hold spaces and
    /// parentheses): the first is field 3, `state`.
    fn stat_fields(pid: u32) -> Option<Vec<u64>> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (_, rest) = stat.rsplit_once(')')?;
        // Only `ppid`, `utime` and `stime` are read: the state letter and the signed fields
        // read as 0, which keeps every index at its field number minus 3.
        Some(
            rest.split_whitespace()
                .map(|field| field.parse().unwrap_or(0))
                .collect(),
        )
    }

    /// The root and its descendants, found by their parent ids (`ppid`, field 4).
    fn tree(&self) -> Vec<u32> {
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse().ok())
            else {
                continue;
            };
            if let Some(ppid) = Self::stat_fields(pid).and_then(|fields| fields.get(1).copied()) {
                children.entry(ppid as u32).or_default().push(pid);
            }
        }
        let mut tree = vec![self.root];
        let mut index = 0;
        while let Some(&pid) = tree.get(index) {
            tree.extend(children.get(&pid).into_iter().flatten());
            index += 1;
        }
        tree
    }

    /// User plus system CPU time of the tree so far (`utime` and `stime`, fields 14 and 15).
    pub(crate) fn cpu_time(&self) -> Duration {
        let ticks: u64 = self
            .tree()
            .into_iter()
            .filter_map(Self::stat_fields)
            .map(|fields| fields.get(11).unwrap_or(&0) + fields.get(12).unwrap_or(&0))
            .sum();
        Duration::from_secs_f64(ticks as f64 / self.ticks_per_second as f64)
    }
}

/// Runs `call` from `CONCURRENCY` tasks for `DURATION` (after `WARMUP`), or until it answers
/// `None` (nothing left to do). `Some(ok)` is one request. With a `server` probe, also the
/// server's CPU time from the end of the warm-up until the last request is answered.
pub(crate) async fn measure<F, Fut>(
    name: &'static str,
    server: Option<&CpuProbe>,
    call: F,
) -> Measured
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Option<bool>> + Send,
{
    let warm_until = Instant::now() + WARMUP;
    let stop_at = warm_until + DURATION;
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            loop {
                let started = Instant::now();
                if started >= stop_at {
                    return (latencies, errors, stop_at);
                }
                let Some(ok) = call().await else {
                    return (latencies, errors, Instant::now());
                };
                if started >= warm_until {
                    if ok {
                        latencies.push(started.elapsed().as_micros() as u64);
                    } else {
                        errors += 1;
                    }
                }
            }
        }));
    }
    let cpu_before = match server {
        Some(probe) => {
            tokio::time::sleep_until(warm_until.into()).await;
            Some(probe.cpu_time())
        }
        None => None,
    };
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    let mut ended = warm_until;
    for task in tasks {
        let (latencies, failed, finished) = task.await.unwrap();
        latencies_us.extend(latencies);
        errors += failed;
        ended = ended.max(finished);
    }
    let server_cpu = server
        .zip(cpu_before)
        .map(|(probe, before)| probe.cpu_time().saturating_sub(before));
    latencies_us.sort_unstable();
    Measured {
        name,
        requests: latencies_us.len(),
        errors,
        elapsed: ended.saturating_duration_since(warm_until),
        latencies_us,
        server_cpu,
    }
}

/// Prints one row per scenario: throughput, latency percentiles, errors, server CPU per request.
pub(crate) fn print(results: &[Measured]) {
    println!(
        "{:<34} {:>10} {:>9} {:>9} {:>7} {:>14}",
        "scenario", "req/s", "p50 ms", "p99 ms", "errors", "server CPU µs"
    );
    for result in results {
        let cpu = result
            .cpu_us_per_request()
            .map_or_else(|| "–".to_owned(), |us| format!("{us:.1}/req"));
        println!(
            "{:<34} {:>10.0} {:>9.2} {:>9.2} {:>7} {:>14}",
            result.name,
            result.rps(),
            result.percentile_ms(0.50),
            result.percentile_ms(0.99),
            result.errors,
            cpu
        );
    }
}
