//! The workloads, each written once against [`Backend`](actor_core::Backend) and checked for the
//! right answer: a run that computes a wrong result is an error, never a time.
//!
//! | workload | what it stresses |
//! |---|---|
//! | [`seed`] | the seed's Counter/ResultCollector: CPU-bound handlers in parallel (speedup) |
//! | [`ping_pong`] | one message at a time between two actors: latency of a round trip |
//! | [`fan_in`] | many producers to one actor (and, with one producer, Savina's Counting): mailbox throughput under contention |
//! | [`spawn_stop`] | spawning actors, stopping them, death watch: the cost of an actor's life |
//! | [`thread_ring`] | Savina's ThreadRing: a token passed around a ring, one hop at a time: hand-off latency across many actors |
//! | [`fork_join`] | Savina's Fork-Join throughput: one driver, many workers, short handlers: scheduling overhead |

pub mod fan_in;
pub mod fork_join;
pub mod ping_pong;
pub mod seed;
pub mod spawn_stop;
pub mod thread_ring;

use actor_core::{AskError, SpawnError};

/// How long a workload waits for its answer before calling it failed.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Why a workload run did not produce a valid result.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// An actor could not be spawned.
    #[error("spawn failed: {0}")]
    Spawn(#[from] SpawnError),
    /// A message was refused.
    #[error("send failed: {0}")]
    Send(String),
    /// An `ask` got no reply.
    #[error("ask failed: {0}")]
    Ask(#[from] AskError),
    /// The backend is not in this build.
    #[error("backend `{0}` is not compiled in (build with `--features {0}`)")]
    NotCompiled(&'static str),
    /// The system did not stop cleanly after the run.
    #[error("the system did not stop cleanly: {0}")]
    Unclean(String),
    /// A baseline could not run (a thread or child process failed).
    #[error("baseline failed: {0}")]
    Baseline(String),
    /// The workload computed a wrong answer.
    #[error("wrong result: expected {expected}, got {got}")]
    WrongResult {
        /// What a correct run produces.
        expected: String,
        /// What this run produced.
        got: String,
    },
}

impl<M> From<actor_core::SendError<M>> for WorkloadError {
    fn from(err: actor_core::SendError<M>) -> Self {
        Self::Send(err.to_string())
    }
}

/// Fails with [`WorkloadError::WrongResult`] unless `got == expected`.
///
/// # Errors
/// When the two differ.
pub fn check<T: PartialEq + std::fmt::Debug>(expected: T, got: T) -> Result<(), WorkloadError> {
    if expected == got {
        Ok(())
    } else {
        Err(WorkloadError::WrongResult {
            expected: format!("{expected:?}"),
            got: format!("{got:?}"),
        })
    }
}
