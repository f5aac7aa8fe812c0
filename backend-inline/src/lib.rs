//! The inline backend: every actor runs on the caller's thread, in an order chosen by a seeded
//! PRNG, so a run is deterministic and a failing run can be replayed from its seed.
//!
//! # How it runs
//! Each actor has one FIFO queue. A send only appends to the receiver's queue; the actors run
//! when the caller blocks: in [`Backend::ask`](actor_core::Backend::ask) until the reply
//! arrives, in [`InlineSystem::run_until_idle`], and in a draining shutdown. Each step picks one
//! actor at random (seeded) among those with work and runs one of its hooks: `started`, one
//! signal or one message. Messages between one pair stay in order (one queue per receiver), and
//! all interleavings that keep that order are reachable by some seed.
//!
//! Time is virtual: it stands still while actors have work and jumps to the next timer when none
//! has, so timers and `ask` timeouts are deterministic and a test never sleeps.
//!
//! # Guarantees and limits
//! * The same seed and the same calls give the same handling order, outputs and failures:
//!   nothing depends on hash-map order, addresses or the clock. [`InlineSystem::trace`] and
//!   [`InlineSystem::fingerprint`] show it.
//! * Faults can be injected deterministically ([`Fault`]) to test supervision without timing.
//! * Panics are caught per actor. An `abort` ends the process: only the process backend isolates
//!   that.
//! * One thread: a handler that never returns hangs the system. A livelock (actors that keep
//!   each other busy forever) is cut by [`InlineConfig::step_limit`].
//! * Set [`SEED_ENV`] (`ACTOR_SEED`) to replay the seed a failing test printed ([`test_seed`]).
//!
//! # Modules
//! Every backend crate has the same modules with the same roles (`docs/architecture.md`); what
//! only this one has is in `scheduler/`. By layer, lowest first (a module imports only those
//! above it in this list):
//! * `config`: [`InlineConfig`]. `mailbox`: an actor's typed queue.
//! * `timer`: the virtual clock and its timers. `ask`: the asks in flight.
//! * `scheduler/`: the table of actors and the seeded pick (`Core`), with its random numbers,
//!   injected faults and trace.
//! * `supervisor`: after a hook fails or an actor stops: restart, terminate, escalate, tell
//!   watchers.
//! * `runner` and `context`, which call each other: a runner hands its actor a context, and
//!   a context's `spawn` makes the runner of the new actor.
//! * `system`: [`InlineSystem`], the [`Backend`](actor_core::Backend).
#![deny(missing_docs)]

mod ask;
mod config;
mod context;
mod mailbox;
mod runner;
mod scheduler;
mod supervisor;
mod system;
mod timer;

pub use actor_core::seed::{SEED_ENV, test_seed};
pub use config::InlineConfig;
pub use context::InlineContext;
pub use scheduler::{Fault, TraceEntry};
pub use system::InlineSystem;
