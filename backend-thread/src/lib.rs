//! The thread backend: actors on threads. Many small actors share a `rayon` pool (M:N); an actor
//! spawned with [`Placement::Dedicated`](actor_core::Placement) gets an OS thread of its own, for
//! handlers that run long. The actor code is the same either way; only the spawn option differs.
//!
//! # How a message travels
//! [`Context::send`](actor_core::Context::send) looks the receiver up by id in a lock-free
//! registry and, under its mailbox's one short lock, checks that it is open (and still serves
//! that actor: a gone pool actor's cell serves the next actor of its type), counts
//! the message accepted, queues it (in chunks, `pool/queue.rs`) and learns whether the receiver was
//! idle; if so it schedules it: a job on the pool (or the sending worker's next slot, so a reply
//! often runs on the same thread with no wake-up), or a wake-up of its dedicated thread. A
//! scheduled actor takes its queued messages in one lock, handles up to 64, then yields the
//! thread so that one busy actor cannot starve the others; the schedule flag, kept under the
//! same lock, makes sure it never runs on two threads at once. `system.rs` and `mailbox/mod.rs` hold
//! this path, `runner.rs` the run loop.
//!
//! A pool handler's sends that follow one another to the same unbounded receiver are held, after
//! the first, and go in 64 at a time, in one lock (`pool/outbox.rs`): many senders into one actor
//! then share its lock once per 64 messages, not once per message. What is held goes in before
//! the handler does anything else through its context, and when it returns or panics, so the
//! order any other actor observes is the order the handler acted in; only a run's tail can
//! reach its receiver later than its `send` call, and never later than the handler's end. See
//! [`ThreadContext`] for the exact rule.
//!
//! # Guarantees and limits
//! * Every rule of the conformance suite holds: per-pair FIFO, no silent loss (a send racing with
//!   the receiver's stop is either refused or dead-lettered: both take the mailbox lock), at
//!   most once, supervision with restarts that keep the queue, death watch, clean stop.
//! * A panic is caught per actor and goes to its supervisor. **An `abort` (or a segfault) ends
//!   the whole process**: only the process backend isolates that.
//! * `shutdown` joins every thread it started (the pool's, the timer's, each dedicated actor's)
//!   within its timeout. A handler that never returns cannot be killed on a thread: its actor is
//!   listed as unresponsive in the report and its thread is left detached.
//! * Time is wall time: timers and `ask` timeouts use `std::time::Instant`.
//! * Memory follows the actors alive, not those ever spawned: a gone pool actor's cell is used
//!   again by the next actor of its type (`pool/registry.rs`), and its id never names that actor.
//!   A cell keeps the final reports of its last 64 actors (32 bytes each, `pool/life.rs`;
//!   [`ThreadConfig::gone_reports`] sets how many); the shutdown report sums the earlier ones
//!   in [`ShutdownReport::forgotten`](actor_core::ShutdownReport::forgotten), and a watch of
//!   one of those is answered with [`ExitReason::Forgotten`](actor_core::ExitReason). A gone
//!   actor's state is dropped when it ends, on either placement; a dedicated actor's cell is
//!   not reused.
//!
//! # Modules
//! Every backend crate has the same modules with the same roles (`docs/architecture.md`); what
//! only this one has is in `pool/`. By layer, lowest first (a module imports only those above
//! it in this list):
//! * `config`: [`ThreadConfig`]. `timer`: the timer thread.
//! * `mailbox`, `ask` and `pool/`, which import each other: the mailbox is built from the
//!   pool's chunked queue and life record, the pool's cells and held sends (`pool/outbox.rs`)
//!   use the mailbox's types, and the system-wide state (`pool/shared.rs`) holds the ask table
//!   whose completions run on it.
//! * `context`: [`ThreadContext`].
//! * `supervisor`: after a hook fails or an actor stops: restart, terminate, escalate, tell
//!   watchers.
//! * `runner`: the run loop of one actor.
//! * `system`: [`ThreadSystem`], the [`Backend`](actor_core::Backend), with the send path.
#![deny(missing_docs)]

mod ask;
mod config;
mod context;
mod mailbox;
mod pool;
mod runner;
mod supervisor;
mod system;
mod timer;

pub use config::ThreadConfig;
pub use context::ThreadContext;
pub use system::ThreadSystem;

/// Locks a mutex whose holder may have panicked: the state it guards is still consistent
/// here, because no user code runs while one of this crate's locks is held. At the crate's
/// root, below every module: each takes a lock of its own with it.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
