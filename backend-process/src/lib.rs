//! The process backend: one OS process per actor, messages over `ipc-channel`. Real parallelism,
//! and real isolation: a panic, an `abort`, a segfault or a `kill -9` of one actor's process
//! harms no other actor and loses no message that was accepted.
//!
//! # Setting up
//! Each actor's process is a re-executed copy of the application, so it has the same code.
//! Call [`init`] first thing in `main`; in a test file, write
//! `backend_process::process_test_support!();` once. Nothing else is registered.
//!
//! # How a message travels
//! A message goes through the host (the application's own process), which keeps the ledger
//! (`os/host/`: one `Slot` per actor, which owns its `Mailbox`, `mailbox.rs`). It packs what it accepts into one buffer
//! per actor (`os/packed.rs`: no allocation per message), keeps it there until the child confirms
//! it, and writes it at once, from the accepting thread, into a ring of memory it shares with
//! the actor's process (`os/ring.rs`, `os/link.rs`): no system call per message or per run of them;
//! a child that had found the ring empty sleeps on a futex (`os/bell.rs`), rung by the host. The
//! child (`runner.rs`, over `os/child/`) copies what the ring holds, decodes each message where it lies and calls
//! the handler. Each child keeps a journal in memory it shares with the host
//! (`os/journal.rs`): the number of the message it has started and of the one it has finished,
//! and every frame it sends (a message, a reply, a watch). The frames leave in batches, one IPC
//! write when the actor runs out of work (or every 128 messages), carrying the progress with
//! them; progress alone is reported every 16,384 messages by an actor whose mailbox is
//! unbounded. A thread that sends a stream holds a lease on the host's lock (`os/leased.rs`) and
//! takes it without a locked instruction. Because the journal outlives the child, a `kill -9` loses nothing: the host reads in
//! it which message was in hand (a dead letter: at most once), which were not started (they go
//! to the restarted process) and which sends had not left yet (they are delivered).
//!
//! Between two actors that talk a lot, messages skip the host: after 16 plain sends to one
//! actor, a process asks the host for a direct route to it, a ring of shared memory from its
//! process into the receiver's that the host makes and keeps mapped (`os/direct.rs`; its rules,
//! and how order per pair holds when a sender changes way, in `os/host/routes.rs`; the two ends in
//! `os/child/routes.rs`). The sender writes the message there and rings the receiver's bell; the
//! receiver frees a slot only once it has handled it, so after a `kill -9` of either end the
//! host still knows what was in hand and what waits. [`ProcessSystem::direct_routes`] says how
//! many are open.
//!
//! Processes are started by `os/launch.rs`, which keeps a spare one started ahead of need, so a
//! spawn or a restart boots a waiting process rather than starting one (about a millisecond).
//! When no spare is ready (a restart storm, a burst of spawns), the actor waits in line for one
//! (`os/host/boot.rs`) with its messages queued, and every other actor's messages keep flowing.
//!
//! # Guarantees and limits
//! * Children die with the host: `PR_SET_PDEATHSIG` (children are started from the router
//!   thread or the launcher thread, which live as long as the system) and a closed channel.
//!   Every child is reaped, spares included.
//! * The bootstrap socket lives in a fresh temporary directory that is private (0700) from
//!   the moment it is made, whatever the application's umask (`os/launch.rs`), and the child
//!   proves itself with a secret from its environment.
//! * A child runs only the actor type the host named: it finds that type's entry record at the
//!   offset the host sent, and checks it lies in its own executable's image and names that
//!   type, before calling anything (`os/child/entry.rs`). A mismatch (the executable replaced
//!   since the host started) fails the actor with the reason
//!   ([`Failure::Transport`](actor_core::Failure::Transport)); none of its code runs.
//! * A frame from a child that does not decode, or is over the frame limit, fails that actor
//!   only. So does a message it wrote to a direct route that its receiver cannot decode (the
//!   route's slot is its frame): the receiver reports it and goes on, the message is a dead
//!   letter ([`Undeliverable`](actor_core::DeadLetterReason::Undeliverable)) on its account,
//!   and the host fails the sender (its next process, if the one that wrote it has died
//!   since). Both run the same code, so only a process that corrupts its own memory can
//!   write one. A message through the host is a payload in a frame that
//!   decoded, and the host's records do not say who sent it: one that does not decode fails
//!   its receiver.
//! * Signals (`Terminated` of a watched actor) survive the death of the receiver's process as
//!   queued messages do: one its process never began to handle goes to the next process; one
//!   whose handler had begun is not given again.
//! * A message sent from a handler through the host leaves the process when the actor runs out
//!   of work (or after 128 messages, or 64 KiB of sends), not at the `send` call: a handler that
//!   sends and then computes for a second delays its message by that second. One sent through a
//!   direct route is in the receiver's hands at the `send` call.
//! * A process that has just written to a direct route looks for an answer for up to 50 µs,
//!   yielding its CPU, before it sleeps: a conversation keeps both ends awake.
//! * Order per pair is kept; so is the order a single mailbox would give when the last hop of a
//!   chain goes through the host (A writes to B's route, then answers C, and C sends to B
//!   through the host: B handles A's message first). When that last hop is a direct route too,
//!   B may handle C's message before A's, as per-pair FIFO allows.
//! * A send from inside an actor is checked at the call, as one from outside is: the host
//!   publishes each actor's state, message type and room in a directory of memory every process
//!   maps (`os/directory.rs`), and a send to a bounded mailbox takes its place there before it
//!   returns `Ok`. A receiver that stops between the check and the host's routing makes the
//!   message a dead letter ([`ReceiverGone`](actor_core::DeadLetterReason::ReceiverGone)), as
//!   a message queued at its stop is.
//! * `ctx.spawn` inside an actor waits for the host to boot the child: with a spare ready, well
//!   under a millisecond; else for the launcher's next spare, after any actor already waiting
//!   for one (about a millisecond each).
//!
//! # Modules
//! Every backend crate has the same modules with the same roles (`docs/architecture.md`); what
//! only this one has is in `os/`: the host, the processes and the shared memory between them
//! (its own doc lists its modules, lowest first). By layer, lowest first (a module imports
//! only those above it in this list, and `os/`'s lower modules):
//! * `config`: [`ProcessConfig`]. `timer`: what a timer does when it is due.
//! * `ask`: the host's ask table, and an actor's completion of its own asks.
//! * `mailbox`: one actor's accepted messages on the host (queued, in its process's hands)
//!   and its ledger.
//! * `os/host/`: the host's state behind one lock (a `Slot` per actor, owning its mailbox; the
//!   asks; the timers), the router thread, boot, direct routes' records.
//! * `supervisor`: after a hook fails or a process dies: restart, terminate, escalate, tell
//!   watchers.
//! * `context` and `runner`, which import each other, as on inline: the run loop of one actor
//!   in its process, and the [`ProcessContext`] its handlers are given, which queues the sends
//!   the loop writes out.
//! * `system`: [`ProcessSystem`], the [`Backend`](actor_core::Backend), with the send path.
#![deny(missing_docs)]

mod ask;
mod config;
mod context;
mod mailbox;
mod os;
mod runner;
mod supervisor;
mod system;
mod timer;

pub use config::ProcessConfig;
pub use context::ProcessContext;
pub use os::child::init;
pub use system::ProcessSystem;

#[doc(hidden)]
pub mod fault_injection {
    //! For this crate's tests only: lets an actor's process misbehave on purpose.

    /// Sends the host a frame that does not decode, from inside an actor's process. Returns
    /// `false` outside one.
    pub fn send_undecodable_frame() -> bool {
        crate::os::child::send_garbage()
    }

    /// Makes the next message this actor's process writes to a direct route one that does not
    /// decode (a varint cut short: for message types that begin with one, an enum or a
    /// length), as a process with corrupted memory might write. Until a message goes to a
    /// route, the next that does is the one.
    pub fn garble_next_direct_message() {
        crate::os::child::routes::GARBLE_NEXT.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes this actor's process send frames over the frame limit instead of refusing them,
    /// so that the host sees one.
    pub fn ignore_frame_limit() {
        crate::os::child::IGNORE_FRAME_LIMIT.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes this actor's process abort right after it sends its next batch to the host, before
    /// its journal moves on: the host has the batch and the journal still holds it.
    pub fn abort_after_next_batch() {
        crate::os::child::ABORT_AFTER_BATCH.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes the next actor process this (host) process boots be told another actor type
    /// than its own, as a host whose executable differs from the child's would: the process
    /// refuses it, and the actor fails with the reason.
    pub fn misname_next_boot() {
        crate::os::host::boot::MISNAME_NEXT_BOOT.store(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes the next actor process this (host) process boots be given an entry offset that
    /// points past its actor type's entry record: the process refuses it.
    pub fn misplace_next_boot() {
        crate::os::host::boot::MISNAME_NEXT_BOOT.store(2, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes every start of a process from now on wait `millis` right after its bootstrap
    /// socket is made, before anything else is done with it: the moment in which another user
    /// could reach a socket that was not private from its creation, held open for a test.
    pub fn pause_after_bootstrap_bind(millis: u64) {
        crate::os::launch::BOOTSTRAP_PAUSE_MS.store(millis, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes every process this (host) process starts from now on take `millis` longer to
    /// start, so that no spare is ready when one is wanted.
    pub fn delay_process_starts(millis: u64) {
        crate::os::launch::START_DELAY_MS.store(millis, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes the next process this (host) process starts be raced by a connection to its
    /// bootstrap socket that does not know the start's secret, made before the child exists.
    /// Returns where the start's outcome is told: the reason it failed, or `"accepted"`.
    pub fn impostor_connects_first() -> std::sync::mpsc::Receiver<String> {
        let (tell, told) = std::sync::mpsc::channel();
        *crate::os::launch::IMPOSTOR
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tell);
        told
    }

    /// Makes the processes this (host) process starts from now on not ask the kernel to kill
    /// them when it dies (`PR_SET_PDEATHSIG`): then only their closed channel to it tells them
    /// it is gone.
    pub fn children_without_death_signal() {
        crate::os::launch::NO_DEATH_SIGNAL.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes every process this (host) process starts from now on fail to start (`true`), or
    /// start again (`false`).
    pub fn fail_process_starts(fail: bool) {
        crate::os::launch::START_FAILS.store(fail, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Lets a test binary's processes become actor processes: write it once in each test file that
/// uses a [`ProcessSystem`]. It adds a test named `__actor_process_child` that calls [`init`]
/// (and does nothing in the test run itself).
///
/// # Example
/// ```
/// // tests/my_actors.rs
/// backend_process::process_test_support!();
///
/// #[test]
/// fn my_actor_runs_in_a_process_of_its_own() {
///     let system = backend_process::ProcessSystem::new().unwrap();
///     // ... spawn, send, ask, shut down
/// }
/// # fn main() {}
/// ```
#[allow(clippy::test_attr_in_doctest)] // the example shows a test file, not a test to run
#[macro_export]
macro_rules! process_test_support {
    () => {
        #[test]
        fn __actor_process_child() {
            $crate::init();
        }
    };
}
