//! The backend switch: the one place that names a backend type. An application picks its
//! backend the same way: a Cargo feature, and one `match` (or one type alias) under `cfg`.

use std::time::Duration;

use actor_core::{Backend, ShutdownMode};
use serde::Serialize;

use crate::workloads::WorkloadError;

/// A backend that can run workloads, compiled in or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// `backend-inline`: every actor on the caller's thread (feature `inline`).
    Inline,
    /// `backend-thread`: a thread pool and dedicated threads (feature `thread`).
    Thread,
    /// `backend-process`: one OS process per actor (feature `process`).
    Process,
}

impl BackendKind {
    /// Every backend, in report order.
    pub const ALL: [Self; 3] = [Self::Inline, Self::Thread, Self::Process];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Inline => "inline",
            Self::Thread => "thread",
            Self::Process => "process",
        }
    }

    /// Whether this build includes the backend (its Cargo feature is on and it is implemented).
    pub fn is_compiled(self) -> bool {
        match self {
            Self::Inline => cfg!(feature = "inline"),
            Self::Thread => cfg!(feature = "thread"),
            Self::Process => cfg!(feature = "process"),
        }
    }

    /// The backends this build includes.
    pub fn compiled() -> Vec<Self> {
        Self::ALL.into_iter().filter(|b| b.is_compiled()).collect()
    }
}

/// Something to run against a backend, whatever it is. Implemented by each workload's runner.
pub trait Job {
    /// What one run yields (usually the time of the measured part).
    type Output;

    /// Runs once on `system`.
    ///
    /// # Errors
    /// Whatever the workload reports, a wrong result included.
    fn run<B: Backend>(&self, system: &B) -> Result<Self::Output, WorkloadError>;
}

/// Runs `job` once on a fresh system of the given backend, then shuts the system down and
/// checks that it stopped cleanly: every message accounted for, no failure.
///
/// # Errors
/// The job's error; [`WorkloadError::NotCompiled`] for a backend this build lacks;
/// [`WorkloadError::Unclean`] if the shutdown report shows a failure or an unbalanced ledger.
pub fn run_on<J: Job>(kind: BackendKind, job: &J) -> Result<J::Output, WorkloadError> {
    match kind {
        #[cfg(feature = "inline")]
        BackendKind::Inline => run_and_stop(backend_inline::InlineSystem::new(), job),
        #[cfg(feature = "thread")]
        BackendKind::Thread => run_and_stop(
            backend_thread::ThreadSystem::new()
                .map_err(|e| WorkloadError::Baseline(format!("thread system: {e}")))?,
            job,
        ),
        #[cfg(feature = "process")]
        BackendKind::Process => run_and_stop(
            backend_process::ProcessSystem::new()
                .map_err(|e| WorkloadError::Baseline(format!("process system: {e}")))?,
            job,
        ),
        #[allow(unreachable_patterns)] // reachable when a backend's feature is off
        _ => Err(WorkloadError::NotCompiled(kind.name())),
    }
}

fn run_and_stop<B: Backend, J: Job>(system: B, job: &J) -> Result<J::Output, WorkloadError> {
    let output = job.run(&system);
    let report = system.shutdown(ShutdownMode::Drain, Duration::from_secs(30));
    let output = output?;
    if !report.is_balanced() || !report.failures.is_empty() || !report.unresponsive.is_empty() {
        return Err(WorkloadError::Unclean(report.to_string()));
    }
    Ok(output)
}
