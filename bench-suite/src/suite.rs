//! What the report measures: the workloads, their sizes, their columns (backends and
//! baselines), and the runner that takes repeated samples of each.

use std::time::{Duration, Instant};

use actor_core::Backend;
use serde::Serialize;

use crate::backends::{BackendKind, Job, run_on};
use crate::baselines;
use crate::workloads::{
    WorkloadError, fan_in, fork_join, ping_pong, seed, spawn_stop, thread_ring,
};

/// A workload of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// The seed's five timing tests (5 actors counting down n/5 each).
    Seed,
    /// Round trips between two actors.
    PingPong,
    /// Four producers into one actor.
    FanIn,
    /// Savina's Counting: one producer into one actor.
    Counting,
    /// One sender outside any actor into one actor: the shape of the bare one-way baselines.
    OneWay,
    /// Spawning, watching and stopping actors.
    SpawnStop,
    /// Savina's ThreadRing.
    ThreadRing,
    /// Savina's Fork-Join throughput.
    ForkJoin,
}

impl WorkloadKind {
    /// Every workload, in report order.
    pub const ALL: [Self; 8] = [
        Self::Seed,
        Self::PingPong,
        Self::FanIn,
        Self::Counting,
        Self::OneWay,
        Self::SpawnStop,
        Self::ThreadRing,
        Self::ForkJoin,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Seed => "seed",
            Self::PingPong => "ping-pong",
            Self::FanIn => "fan-in",
            Self::Counting => "counting",
            Self::OneWay => "one-way",
            Self::SpawnStop => "spawn-stop",
            Self::ThreadRing => "thread-ring",
            Self::ForkJoin => "fork-join",
        }
    }

    /// The unit of the reported figure, and whether higher is better.
    pub fn unit(self) -> (&'static str, bool) {
        match self {
            Self::Seed => ("s", false),
            Self::PingPong => ("ns/round trip", false),
            Self::FanIn | Self::Counting | Self::OneWay | Self::ForkJoin => ("M msg/s", true),
            Self::SpawnStop => ("k actors/s", true),
            Self::ThreadRing => ("ns/hop", false),
        }
    }
}

/// How big each workload is, and how many times each is run.
#[derive(Clone, Debug, Serialize)]
pub struct Sizes {
    /// Runs per (workload, column); the report gives their median and range.
    pub runs: usize,
    /// The seed's n (test 1 counts down all of it).
    pub seed_n: u64,
    /// Ping-pong round trips per run.
    pub rounds: u64,
    /// Fan-in messages per producer (four producers).
    pub fan_in_per_producer: u64,
    /// Counting and one-way messages (one producer).
    pub counting: u64,
    /// Actors spawned and stopped per run.
    pub spawn_count: u64,
    /// Thread-ring members and hops.
    pub ring: (usize, u64),
    /// Fork-join workers and messages per worker.
    pub fork_join: (usize, u64),
}

impl Sizes {
    /// The default run: n calibrated so test 1 takes about 4 s, the rest sized to take well
    /// under a second a run.
    pub fn full(seed_n: u64) -> Self {
        Self {
            runs: 3,
            seed_n,
            rounds: 200_000,
            fan_in_per_producer: 250_000,
            counting: 1_000_000,
            spawn_count: 100_000,
            ring: (100, 1_000_000),
            fork_join: (32, 30_000),
        }
    }

    /// A run of a few seconds that checks every result (for CI), timing included but not
    /// meaningful.
    pub fn quick() -> Self {
        Self {
            runs: 1,
            seed_n: 20_000_000,
            rounds: 2_000,
            fan_in_per_producer: 2_500,
            counting: 10_000,
            spawn_count: 1_000,
            ring: (10, 10_000),
            fork_join: (8, 1_000),
        }
    }

    /// The sizes for the process backend: a spawn there costs a millisecond, not a
    /// microsecond, and a hop between actors that must wake another process microseconds, so
    /// those counts are cut to take a comparable time. The streams (one-way, counting, fan-in)
    /// keep their counts: a message in a stream costs tens of nanoseconds here too, and the
    /// bare ipc-channel stream they are compared with sends the same count (a stream of a
    /// twentieth would time mostly its start). The seed's n is kept: it is what the speedup
    /// is measured on.
    pub fn for_processes(&self) -> Self {
        Self {
            rounds: (self.rounds / 20).max(1),
            spawn_count: (self.spawn_count / 1000).max(10),
            ring: (self.ring.0.min(10), (self.ring.1 / 100).max(1)),
            fork_join: (self.fork_join.0.min(8), (self.fork_join.1 / 20).max(1)),
            ..self.clone()
        }
    }

    /// The amount of work one run of `kind` does, in the unit its figure counts.
    fn units(&self, kind: WorkloadKind) -> f64 {
        match kind {
            WorkloadKind::Seed => 1.0,
            WorkloadKind::PingPong => self.rounds as f64,
            WorkloadKind::FanIn => 4.0 * self.fan_in_per_producer as f64,
            WorkloadKind::Counting | WorkloadKind::OneWay => self.counting as f64,
            WorkloadKind::SpawnStop => self.spawn_count as f64,
            WorkloadKind::ThreadRing => self.ring.1 as f64,
            WorkloadKind::ForkJoin => self.fork_join.0 as f64 * self.fork_join.1 as f64,
        }
    }

    /// The figure for one run of `kind` that did `units` of work in `elapsed`.
    pub fn figure(kind: WorkloadKind, elapsed: Duration, units: f64) -> f64 {
        let secs = elapsed.as_secs_f64().max(1e-12);
        match kind {
            WorkloadKind::Seed => secs,
            WorkloadKind::PingPong | WorkloadKind::ThreadRing => secs * 1e9 / units,
            WorkloadKind::FanIn
            | WorkloadKind::Counting
            | WorkloadKind::OneWay
            | WorkloadKind::ForkJoin => units / secs / 1e6,
            WorkloadKind::SpawnStop => units / secs / 1e3,
        }
    }
}

/// One column of a row: a backend, or a baseline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Column {
    /// A backend running the workload.
    Backend(BackendKind),
    /// A bare baseline, with its name.
    Baseline(&'static str),
}

impl Column {
    /// The column's heading.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Backend(b) => b.name(),
            Self::Baseline(name) => name,
        }
    }
}

/// The baselines of a workload; the first is the one ratios are taken against.
fn baselines(kind: WorkloadKind) -> &'static [&'static str] {
    match kind {
        WorkloadKind::Seed => &[SEED_T1, SEED_T2, SEED_T3, SEED_T4],
        WorkloadKind::PingPong => &["crossbeam, 2 threads", IPC_ROUND_TRIP],
        WorkloadKind::FanIn => &["crossbeam, 4 threads"],
        WorkloadKind::Counting | WorkloadKind::OneWay => &["crossbeam, 2 threads", IPC_ONE_WAY],
        WorkloadKind::ForkJoin => &["one thread, no messages"],
        WorkloadKind::SpawnStop => &[IPC_SPAWN],
        WorkloadKind::ThreadRing => &[],
    }
}

/// The bare life of a process: re-executed, connected over ipc-channel, one echo, exit, reaped.
pub const IPC_SPAWN: &str = "ipc-channel, a process re-executed, one echo, exit";
/// The bare ipc-channel round trip between two processes.
pub const IPC_ROUND_TRIP: &str = "ipc-channel, 2 processes";
/// The bare ipc-channel one-way stream between two processes, 64 numbers per IPC message.
pub const IPC_ONE_WAY: &str = "ipc-channel, 2 processes, 64 per send";

/// Round trips of the bare ipc-channel baseline: a process round trip costs 100 times a thread
/// one, so it runs fewer to take a comparable time.
const IPC_ROUNDS_MAX: u64 = 20_000;

/// The seed's baselines, named as its tests.
pub const SEED_T1: &str = "test 1: one thread, n";
/// The seed's test 2.
pub const SEED_T2: &str = "test 2: one thread, n/5";
/// The seed's test 3.
pub const SEED_T3: &str = "test 3: child process, n/5";
/// The seed's test 4.
pub const SEED_T4: &str = "test 4: 5 threads, n/5 each";

/// Median and range of the figures of repeated runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stats {
    /// The median figure.
    pub median: f64,
    /// The lowest.
    pub min: f64,
    /// The highest.
    pub max: f64,
    /// How many runs.
    pub runs: usize,
}

impl Stats {
    /// The statistics of some figures (`None` for none).
    pub fn of(mut figures: Vec<f64>) -> Option<Self> {
        if figures.is_empty() {
            return None;
        }
        figures.sort_by(f64::total_cmp);
        let n = figures.len();
        let median = if n % 2 == 1 {
            figures[n / 2]
        } else {
            (figures[n / 2 - 1] + figures[n / 2]) / 2.0
        };
        Some(Self {
            median,
            min: figures[0],
            max: figures[n - 1],
            runs: n,
        })
    }
}

/// One cell: the statistics of a column, or why it has none.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    /// The column.
    pub column: Column,
    /// Its figures, if every run succeeded.
    pub stats: Option<Stats>,
    /// The first error, if a run failed (the cell then has no figure).
    pub error: Option<String>,
}

/// One workload's results.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The workload.
    pub workload: WorkloadKind,
    /// The unit of its figures.
    pub unit: &'static str,
    /// Whether a higher figure is better.
    pub higher_is_better: bool,
    /// Backends first, then baselines.
    pub cells: Vec<Cell>,
}

impl Row {
    /// The cell of a column.
    pub fn cell(&self, column: &Column) -> Option<&Cell> {
        self.cells.iter().find(|c| &c.column == column)
    }

    /// The first baseline's cell, if the workload has one.
    pub fn baseline(&self) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| matches!(c.column, Column::Baseline(_)))
    }

    /// The baseline a backend is held against: for the process backend, the ipc-channel one
    /// where the row has one, else the first; for the others, the first that is not.
    pub fn baseline_for(&self, backend: BackendKind) -> Option<&Cell> {
        let ipc = |c: &&Cell| matches!(c.column, Column::Baseline(name) if name.starts_with("ipc-channel"));
        let in_process = |c: &&Cell| matches!(c.column, Column::Baseline(name) if !name.starts_with("ipc-channel"));
        match backend {
            BackendKind::Process => self.cells.iter().find(ipc).or_else(|| self.baseline()),
            _ => self.cells.iter().find(in_process),
        }
    }
}

/// The columns of a workload for the chosen backends.
pub fn columns(kind: WorkloadKind, backends: &[BackendKind]) -> Vec<Column> {
    let mut columns: Vec<Column> = backends.iter().copied().map(Column::Backend).collect();
    columns.extend(baselines(kind).iter().copied().map(Column::Baseline));
    columns
}

/// One run of a workload on a backend, timed.
struct Timed<'a> {
    kind: WorkloadKind,
    sizes: &'a Sizes,
}

impl Job for Timed<'_> {
    type Output = Duration;

    fn run<B: Backend>(&self, system: &B) -> Result<Duration, WorkloadError> {
        let s = self.sizes;
        match self.kind {
            WorkloadKind::Seed => timed(|| seed::run_actors(system, s.seed_n, 5)),
            WorkloadKind::PingPong => timed(|| ping_pong::run(system, s.rounds)),
            // The throughput workloads' actors are spawned, and have started, before the clock
            // starts, as the bare baselines start their threads and processes before theirs.
            WorkloadKind::FanIn => {
                let spawned = fan_in::Spawned::ready(system, 4)?;
                timed(|| spawned.fan_in(system, s.fan_in_per_producer))
            }
            WorkloadKind::Counting => {
                let spawned = fan_in::Spawned::ready(system, 1)?;
                timed(|| spawned.fan_in(system, s.counting))
            }
            WorkloadKind::OneWay => {
                let spawned = fan_in::Spawned::ready(system, 0)?;
                timed(|| spawned.one_way(system, s.counting))
            }
            WorkloadKind::SpawnStop => timed(|| spawn_stop::run(system, s.spawn_count)),
            WorkloadKind::ThreadRing => timed(|| thread_ring::run(system, s.ring.0, s.ring.1)),
            WorkloadKind::ForkJoin => {
                timed(|| fork_join::run(system, s.fork_join.0, s.fork_join.1))
            }
        }
    }
}

/// How long `run` takes; its error, a wrong result included, if it fails.
fn timed<T>(run: impl FnOnce() -> Result<T, WorkloadError>) -> Result<Duration, WorkloadError> {
    let start = Instant::now();
    run()?;
    Ok(start.elapsed())
}

/// Runs one column of a workload once; returns its figure.
///
/// # Errors
/// The run's error, a wrong result included.
pub fn run_once(kind: WorkloadKind, column: &Column, sizes: &Sizes) -> Result<f64, WorkloadError> {
    let scaled;
    let sizes = match column {
        Column::Backend(BackendKind::Process) => {
            scaled = sizes.for_processes();
            &scaled
        }
        _ => sizes,
    };
    let units = match column {
        Column::Baseline(IPC_ROUND_TRIP) => sizes.rounds.min(IPC_ROUNDS_MAX) as f64,
        Column::Baseline(IPC_SPAWN) => sizes.for_processes().spawn_count as f64,
        _ => sizes.units(kind),
    };
    let elapsed = run_timed(kind, column, sizes)?;
    Ok(Sizes::figure(kind, elapsed, units))
}

fn run_timed(
    kind: WorkloadKind,
    column: &Column,
    sizes: &Sizes,
) -> Result<Duration, WorkloadError> {
    match column {
        Column::Backend(backend) => run_on(*backend, &Timed { kind, sizes }),
        Column::Baseline(name) => match (kind, *name) {
            (WorkloadKind::Seed, SEED_T1) => baselines::one_thread(sizes.seed_n),
            (WorkloadKind::Seed, SEED_T2) => baselines::one_thread(sizes.seed_n / 5),
            (WorkloadKind::Seed, SEED_T3) => baselines::child_process(sizes.seed_n / 5),
            (WorkloadKind::Seed, _) => baselines::threads(sizes.seed_n, 5),
            (WorkloadKind::PingPong, IPC_ROUND_TRIP) => {
                crate::ipc::round_trip(sizes.rounds.min(IPC_ROUNDS_MAX))
            }
            (WorkloadKind::Counting | WorkloadKind::OneWay, IPC_ONE_WAY) => {
                crate::ipc::one_way(sizes.counting, 64)
            }
            (WorkloadKind::SpawnStop, IPC_SPAWN) => {
                crate::ipc::spawn_and_stop(sizes.for_processes().spawn_count)
            }
            (WorkloadKind::PingPong, _) => baselines::crossbeam_round_trip(sizes.rounds),
            (WorkloadKind::FanIn, _) => baselines::crossbeam_fan_in(4, sizes.fan_in_per_producer),
            (WorkloadKind::Counting | WorkloadKind::OneWay, _) => {
                baselines::crossbeam_fan_in(1, sizes.counting)
            }
            (WorkloadKind::ForkJoin, _) => baselines::fork_join_work(sizes.units(kind) as u64),
            (other, name) => Err(WorkloadError::Baseline(format!(
                "{} has no baseline {name}",
                other.name()
            ))),
        },
    }
}

/// Measures each workload on each column, `sizes.runs` times, interleaving the columns run by
/// run so that drift on a shared machine spreads over all of them. `progress` is told of each
/// run before it starts.
pub fn measure(
    workloads: &[WorkloadKind],
    backends: &[BackendKind],
    sizes: &Sizes,
    mut progress: impl FnMut(WorkloadKind, &Column, usize),
) -> Vec<Row> {
    workloads
        .iter()
        .map(|&kind| {
            let columns = columns(kind, backends);
            let mut figures: Vec<Vec<f64>> = vec![Vec::new(); columns.len()];
            let mut errors: Vec<Option<String>> = vec![None; columns.len()];
            for run in 0..sizes.runs {
                for (i, column) in columns.iter().enumerate() {
                    progress(kind, column, run);
                    if errors[i].is_some() {
                        continue;
                    }
                    match run_once(kind, column, sizes) {
                        Ok(figure) => figures[i].push(figure),
                        Err(err) => errors[i] = Some(err.to_string()),
                    }
                }
            }
            let (unit, higher_is_better) = kind.unit();
            let cells = columns
                .into_iter()
                .zip(figures.into_iter().zip(errors))
                .map(|(column, (figures, error))| Cell {
                    column,
                    stats: if error.is_none() {
                        Stats::of(figures)
                    } else {
                        None
                    },
                    error,
                })
                .collect();
            Row {
                workload: kind,
                unit,
                higher_is_better,
                cells,
            }
        })
        .collect()
}

/// The number of runs `measure` makes, for a progress bar.
pub fn run_count(workloads: &[WorkloadKind], backends: &[BackendKind], sizes: &Sizes) -> u64 {
    workloads
        .iter()
        .map(|&k| columns(k, backends).len() as u64)
        .sum::<u64>()
        * sizes.runs as u64
}
