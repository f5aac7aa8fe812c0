//! What only the process backend has: the host that keeps the ledger and routes every message,
//! the processes it starts for actors and the child's end of their links, and the shared memory
//! between them (rings, bells, journals, direct routes, the directory).
//!
//! Lowest first:
//! * `wire`: the frames between host and child, and how messages are encoded.
//! * `mapping`: shared memory mapped once, for the structures below.
//! * `bell`: the futex a child sleeps on, rung by whoever writes to it.
//! * `ring`: the ring of shared memory the host writes a child's deliveries into.
//! * `packed`: deliveries packed back to back in one buffer, no allocation per message.
//! * `in_flight`: the deliveries a child's process holds, indexed by number.
//! * `journal`: what a child has started, finished and sent, readable after its death.
//! * `leased`: the host's lock, which a thread sending a stream holds on lease.
//! * `direct`: a direct route, a ring from one actor's process into another's.
//! * `directory`: what every process can read of every actor (state, type, room).
//! * `link`: the host's link to one running child (its process, ring, bell, writer thread).
//! * `child/`: the child side: [`init`](child::init), its I/O, its ends of direct routes.
//! * `launch`: starts processes, and keeps spares started ahead of need.
//! * `host/`: the host's state behind one lock, made of parts that own their data (the table of
//!   actors, `table.rs`, a `Slot` per actor with its mailbox; the asks; the timers), what it
//!   does with what children send (`inbound.rs`), its timers, giving an actor a process
//!   (`boot.rs`), its record of the direct routes and their rules (`routes.rs`), and the
//!   router thread, which reads every child's channel (`router.rs`). Its files are parts of
//!   one state and call each other; nothing outside `host/` is imported by it but the modules
//!   above and the crate's `config`, `ask`, `mailbox` and `timer`.

pub(crate) mod bell;
pub(crate) mod child;
pub(crate) mod direct;
pub(crate) mod directory;
pub(crate) mod host;
#[cfg(test)]
mod hostile;
pub(crate) mod in_flight;
pub(crate) mod journal;
pub(crate) mod launch;
pub(crate) mod leased;
pub(crate) mod link;
pub(crate) mod mapping;
pub(crate) mod packed;
pub(crate) mod ring;
pub(crate) mod wire;
