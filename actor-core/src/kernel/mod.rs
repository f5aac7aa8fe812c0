//! The kernel: the rules' bookkeeping, written once, for backend authors.
//!
//! Actor code never uses this module; a backend does. The rules every backend keeps (see
//! `docs/rules.md` in the repository, and the conformance suite that proves each) define some
//! bookkeeping that does not depend on how a backend runs actors: what a caught panic means,
//! when a failure restarts an actor, which asks are still waiting and which reply is late, how
//! long a dead-letter log grows, what a watch of a gone actor answers, what the shutdown report
//! holds. That bookkeeping lives here, and every backend calls it, so that the same actor code
//! gets the same answer on every backend. What a backend keeps to itself is its *mechanism*:
//! how it learns of a failure (the pool from `catch_unwind`, the process host from a closed
//! channel), where it keeps a mailbox and its ledger, how it wakes a timer. The decision comes
//! from here.
//!
//! | bookkeeping | here |
//! |---|---|
//! | catch a hook, with its phase and cause | [`hook`] |
//! | restart or escalate, the restart budget, a failure during shutdown | [`supervisor`] |
//! | watchers, and a watch of an actor already gone | [`watch`] |
//! | the ask table: complete, time out, count late replies, cancel a timeout | [`asks`] |
//! | an outside caller's wait for its ask, with its race fallback | [`outside`] |
//! | timers ordered by deadline, cancellable | [`timers`] |
//! | failures, escalations, the bounded dead-letter log, the report | [`report`] |
//!
//! The per-actor account itself is [`Ledger`](crate::Ledger): a backend keeps one per actor
//! wherever its send path needs it (behind the mailbox's lock on the thread backend, in the host
//! on the process backend) and counts with it.
//!
//! A new backend is done when its `tests/conformance.rs` runs the whole suite:
//! ```ignore
//! actor_core::conformance_tests!(|seed| my_backend::MySystem::with_seed(seed));
//! ```

pub mod asks;
pub mod hook;
pub mod outside;
pub mod report;
pub mod supervisor;
pub mod timers;
pub mod watch;

pub use asks::{AskTable, Outcome, take_reply};
pub use hook::{Caught, catch, catch_stopped, failure_of_panic};
pub use outside::OutsideAsk;
pub use report::ReportBuilder;
pub use supervisor::{
    Escalation, RestartBudget, Stage, dead_letter_reason, escalation, stopped_failure, supervise,
};
pub use timers::{TimerKey, TimerQueue, deadline_after};
pub use watch::{Watchers, terminated};
