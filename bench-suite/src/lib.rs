//! Identical workloads through every backend, and the side-by-side report of what they cost.
//!
//! Every workload in [`workloads`] is written once against [`actor_core::Backend`]. The binary
//! runs each on every backend compiled in (Cargo features `inline`, `thread`, `process`; the
//! switch is [`backends::run_on`], the one place that names a backend type) next to the bare
//! [`baselines`] the backends are held against, and [`report`] prints the table and writes
//! Markdown and SVG. The same workload code is used by the tests and the criterion benches.
#![deny(missing_docs)]

pub mod backends;
pub mod baselines;
pub mod ipc;
pub mod report;
pub mod suite;
pub mod workloads;
