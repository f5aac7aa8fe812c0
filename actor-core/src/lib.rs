//! The actor model shared by every backend of this workspace.
//!
//! This crate defines the [`Actor`] trait, the handles actor code keeps ([`Addr`], [`ReplyTo`]),
//! the [`Context`] a handler acts through, the [`Backend`] trait an actor system implements, the
//! supervision types and the errors. It has no runtime: `backend-inline`, `backend-thread` and
//! `backend-process` each implement it, and the same actor code runs on all three unchanged.
//!
//! # The key design decision: generic handlers over a context, plain-data addresses
//!
//! One actor's code must run on the caller's thread, on a thread pool and in a process of its own.
//! Two choices make that possible.
//!
//! * **Handlers are generic over the context** (`fn handle<C: Context<Self>>`). Each backend
//!   passes its own context type and the compiler produces a handler specialised for it: no
//!   `dyn` call and no allocation between `send` and `handle`. The price is that `Context` is not
//!   object-safe and an actor cannot be stored as a trait object across backends; nothing in the
//!   model needs that.
//! * **Addresses are plain data**: an [`Addr<M>`] is an actor id with the message type attached,
//!   serializable whatever `M` is. Actor state can keep it, messages can carry it, and it means
//!   the same thing in another process. The cost is one lookup from id to mailbox per send, which
//!   each backend makes cheap its own way (an index on inline). For the same reason an actor's
//!   initial state is `Clone + Serialize`: a restart starts from a clone of it, and the process
//!   backend ships it to the child process.
//!
//! Everything that crosses an actor boundary is a [`Message`] (`Serialize + Deserialize + Send`),
//! even on backends that never serialize, so that code written against the inline backend does
//! not stop compiling when moved to processes.
//!
//! Replies never block a handler: [`Context::ask`] turns the eventual reply (or the reason there
//! is none) into a message for the asking actor. Only code outside any actor waits, through
//! [`Backend::ask`].
//!
//! The rules every backend keeps (per-pair FIFO, no silent loss, at most once, supervision, clean
//! stop, bad input as typed errors) are stated in the repository's `docs/rules.md`; the
//! `conformance` feature provides the suite that proves them, generic over a [`Backend`]. Their
//! bookkeeping is written once, in [`kernel`], the interface for backend authors: every backend
//! calls it, so that a decision (restart or stop, late or not) is the same on all of them.
//!
//! # Example
//! The same actor, run here on the inline backend:
//! ```
//! use std::time::Duration;
//! use actor_core::{Actor, ActorError, Backend, Context, ReplyTo, ShutdownMode};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Clone, Default, Serialize, Deserialize)]
//! struct Counter { count: u64 }
//!
//! #[derive(Serialize, Deserialize)]
//! enum CounterMsg { Add(u64), Get(ReplyTo<u64>) }
//!
//! impl Actor for Counter {
//!     type Msg = CounterMsg;
//!     fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: CounterMsg) -> Result<(), ActorError> {
//!         match msg {
//!             CounterMsg::Add(n) => self.count += n,
//!             CounterMsg::Get(reply_to) => ctx.reply(reply_to, self.count),
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let system = backend_inline::InlineSystem::new();
//! let counter = system.spawn(Counter::default()).unwrap();
//! system.send(&counter, CounterMsg::Add(2)).unwrap();
//! system.send(&counter, CounterMsg::Add(3)).unwrap();
//! let total = system.ask(&counter, CounterMsg::Get, Duration::from_secs(1)).unwrap();
//! assert_eq!(total, 5);
//! let report = system.shutdown(ShutdownMode::Drain, Duration::from_secs(1));
//! assert!(report.is_balanced());
//! ```
#![deny(missing_docs)]

mod actor;
mod addr;
mod context;
mod error;
pub mod kernel;
mod report;
pub mod seed;
mod supervision;
mod system;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use actor::{Actor, ActorError, Message};
pub use addr::{ActorId, ActorRef, Addr, Asker, ReplyTo};
pub use context::Context;
pub use error::{AskError, SendError, SendFailure, SpawnError};
pub use report::{
    ActorReport, DeadLetter, DeadLetterReason, FailureRecord, Forgotten, Ledger, ShutdownReport,
};
pub use supervision::{ExitReason, Failure, Phase, RestartLimit, Signal, Supervision};
pub use system::{Backend, Placement, ShutdownMode, SpawnOptions};
