//! What only the thread backend has: the threads actors run on, the registry of cells (each
//! serves one actor after another), and the parts a cell is made of.
//!
//! * `threads.rs`: the `rayon` pool, each dedicated actor's thread, and the FIFO of ready actors.
//! * `cell.rs`: an actor's cell: its mailbox, its state, the flags its runner and supervisor share.
//! * `registry.rs`: where actors are found by id, and how a gone actor's cell serves the next.
//! * `free_cells.rs`: the free cells of each actor type, per pool worker and shared.
//! * `life.rs`: a cell's life record: name, watchers, end, its earlier actors' reports.
//! * `queue.rs`: the chunked FIFO behind a mailbox's lock.
//! * `runner_only.rs`: state only the thread running an actor touches, with no lock.
//! * `outbox.rs`: a pool handler's held sends to one receiver.
//! * `shared.rs`: the state every thread of one system shares, the hub all the rest calls into.

pub(crate) mod cell;
mod free_cells;
pub(crate) mod life;
pub(crate) mod outbox;
pub(crate) mod queue;
pub(crate) mod registry;
pub(crate) mod runner_only;
pub(crate) mod shared;
pub(crate) mod threads;
