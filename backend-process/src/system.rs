//! [`ProcessSystem`]: the [`Backend`] implementation, in the host process. A send from outside
//! is checked against the host's ledger and queued in the actor's mailbox there (`os/host/`,
//! `mailbox.rs`), then written to the actor's process, where `runner.rs` calls the handler.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actor_core::kernel::{OutsideAsk, Stage, deadline_after};
use actor_core::{
    Actor, ActorId, ActorRef, Addr, AskError, Asker, Backend, ExitReason, Message, ReplyTo,
    SendError, SendFailure, ShutdownMode, ShutdownReport, SpawnError, SpawnOptions,
};
use crossbeam_channel::bounded;

use crate::ask::PendingAsk;
use crate::config::ProcessConfig;
use crate::os::host::Status;
use crate::os::host::{Admission, Command, Host, SpawnRequest, decoder_of, lock};
use crate::os::packed::encode_into;
use crate::os::wire::{Bytes, DeliveryRef, MsgType, ToChild, TypeKey, decode, encode};
use crate::runner::entry_of;

/// An actor system with one OS process per actor.
///
/// The application (or test binary) must call [`init`](crate::init) first thing in `main` (or
/// use [`process_test_support!`](crate::process_test_support) in a test file): each actor's
/// process is a re-executed copy of it.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use actor_core::{Actor, ActorError, Backend, Context, ReplyTo, ShutdownMode};
/// use backend_process::ProcessSystem;
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct Pid;
/// impl Actor for Pid {
///     type Msg = ReplyTo<u32>;
///     fn handle<C: Context<Self>>(&mut self, ctx: &mut C, reply_to: Self::Msg) -> Result<(), ActorError> {
///         ctx.reply(reply_to, std::process::id());
///         Ok(())
///     }
/// }
///
/// backend_process::init(); // first, in `main`
/// let system = ProcessSystem::new().unwrap();
/// let actor = system.spawn(Pid).unwrap();
/// let pid = system.ask(&actor, |r| r, Duration::from_secs(5)).unwrap();
/// assert_ne!(pid, std::process::id(), "the actor runs in a process of its own");
/// let report = system.shutdown(ShutdownMode::Drain, Duration::from_secs(5));
/// assert!(report.is_balanced());
/// ```
pub struct ProcessSystem {
    host: Arc<Host>,
    router: Option<JoinHandle<()>>,
}

impl ProcessSystem {
    /// A system with its router thread started.
    ///
    /// # Errors
    /// The operating system refused a thread or a channel.
    ///
    /// # Example
    /// ```
    /// use std::time::Duration;
    /// use actor_core::{Backend, ShutdownMode};
    ///
    /// backend_process::init(); // first, in `main`
    /// let system = backend_process::ProcessSystem::new()?;
    /// let report = system.shutdown(ShutdownMode::Drain, Duration::from_secs(5));
    /// assert!(report.actors.is_empty() && report.is_balanced());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> std::io::Result<Self> {
        Self::with_config(ProcessConfig::default())
    }

    /// A system with the given configuration.
    ///
    /// # Errors
    /// The operating system refused a thread or a channel.
    ///
    /// # Example
    /// ```
    /// use backend_process::{ProcessConfig, ProcessSystem};
    ///
    /// backend_process::init(); // first, in `main`
    /// // Messages of up to 1 MiB; each process started when it is needed.
    /// let config = ProcessConfig::default().max_frame(1 << 20).spare_processes(0);
    /// let system = ProcessSystem::with_config(config)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_config(config: ProcessConfig) -> std::io::Result<Self> {
        let (host, router) = Host::start(&config)?;
        Ok(Self {
            host,
            router: Some(router),
        })
    }

    /// The process id of an actor's current process, if it has one (for tests and tools that
    /// want to signal it).
    ///
    /// # Example
    /// ```
    /// use std::time::Duration;
    /// use actor_core::{Actor, ActorError, ActorRef, Backend, Context, ReplyTo};
    ///
    /// #[derive(Clone, serde::Serialize, serde::Deserialize)]
    /// struct Pid;
    /// impl Actor for Pid {
    ///     type Msg = ReplyTo<u32>;
    ///     fn handle<C: Context<Self>>(&mut self, ctx: &mut C, reply_to: Self::Msg) -> Result<(), ActorError> {
    ///         ctx.reply(reply_to, std::process::id());
    ///         Ok(())
    ///     }
    /// }
    ///
    /// backend_process::init(); // first, in `main`
    /// let system = backend_process::ProcessSystem::new()?;
    /// let actor = system.spawn(Pid).unwrap();
    /// let answered = system.ask(&actor, |r| r, Duration::from_secs(5)).unwrap();
    /// assert_eq!(system.pid_of(actor.id()), Some(answered));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pid_of(&self, id: ActorId) -> Option<u32> {
        lock(&self.host)
            .slot(id)
            .and_then(|s| s.child.as_ref())
            .map(|c| c.process.id())
    }

    /// How many direct routes (shared memory from one actor's process straight into
    /// another's) are open now, and how many of them the sender writes to (the receiver has
    /// been given them). Actors that exchange many plain messages get one; see the crate's
    /// top documentation.
    ///
    /// # Example
    /// ```no_run
    /// let system = backend_process::ProcessSystem::new()?;
    /// assert_eq!(system.direct_routes(), (0, 0), "no actor has sent anything yet");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn direct_routes(&self) -> (usize, usize) {
        lock(&self.host).routes.counts()
    }

    fn stop(&mut self, mode: ShutdownMode, timeout: Duration) -> ShutdownReport {
        let Some(router) = self.router.take() else {
            return ShutdownReport::default();
        };
        let deadline = deadline_after(timeout);
        // What has not stopped by then is killed, with a tenth of the time (100 ms at most)
        // left to see it die and settle its account: a kill and its reaping take well under a
        // millisecond here, so the report usually comes within the timeout. (The router is
        // given up to 2 s more if it needs them: what a killed process sent before it died
        // must be read and counted, and completeness comes first.)
        let slice = (timeout / 10).min(Duration::from_millis(100));
        let kill_at = deadline.checked_sub(slice).unwrap_or(deadline);
        // A drain that runs long leaves the stop its slice too: idle actors run `stopped`.
        let drain_until = kill_at.checked_sub(slice).unwrap_or(kill_at);
        lock(&self.host).stage = match mode {
            ShutdownMode::Drain => Stage::Draining,
            ShutdownMode::DeadLetter => Stage::Stopping,
        };
        if mode == ShutdownMode::Drain {
            let idle = |state: &crate::os::host::State| {
                state.actors.iter().all(|s| {
                    !s.is_alive() || (s.mailbox.is_idle() && !state.routes.has_unread_to(s.id))
                })
            };
            while Instant::now() < drain_until && !idle(&lock(&self.host)) {
                std::thread::sleep(Duration::from_micros(500));
            }
        }
        {
            let mut state = lock(&self.host);
            // From here on a failure stops its actor: nothing restarts.
            state.stage = Stage::Stopping;
            let mut without_process = Vec::new();
            for slot in state.actors.iter_mut() {
                if slot.is_alive() {
                    if let Some(child) = &slot.child {
                        child.send(ToChild::Shutdown);
                    }
                    match &slot.child {
                        Some(_) => slot.set_status(Status::Stopping(ExitReason::Shutdown)),
                        // Still waiting for a process (`boot.rs`): it never ran, and stops now.
                        None => without_process.push(slot.id),
                    }
                }
            }
            for id in without_process {
                state.terminate(id, ExitReason::Shutdown);
            }
        }
        let all_gone = |host: &Host| {
            lock(host)
                .actors
                .iter()
                .all(|s| matches!(s.status, Status::Gone(_)))
        };
        while Instant::now() < kill_at && !all_gone(&self.host) {
            std::thread::sleep(Duration::from_micros(500));
        }
        // What did not stop in time is killed; the router sees each death and settles its
        // account (or, where it has not by the deadline, this thread does, below).
        let mut unresponsive = Vec::new();
        for slot in lock(&self.host).actors.iter_mut() {
            if !matches!(slot.status, Status::Gone(_))
                && let Some(child) = &mut slot.child
            {
                let _ = child.process.kill();
                unresponsive.push(slot.id);
            }
        }
        let grace = Instant::now() + Duration::from_secs(2);
        while Instant::now() < grace && !all_gone(&self.host) {
            std::thread::sleep(Duration::from_micros(500));
        }
        self.host.command(Command::Exit);
        let _ = router.join();
        let mut state = lock(&self.host);
        state.cancel_timers();
        // Anything the router could not settle: reap it and close the account.
        let ids: Vec<ActorId> = state
            .actors
            .iter()
            .filter(|s| !matches!(s.status, Status::Gone(_)))
            .map(|s| s.id)
            .collect();
        // Their journals still count: what they handled, and the sends they made that had not
        // left (routed now, or dead letters where the receiver is gone). With the router gone,
        // a set of no channels stands in for its own.
        let mut no_channels = ipc_channel::ipc::IpcReceiverSet::new().ok();
        for id in ids {
            if let Some(child) = state.slot_mut(id).and_then(|s| s.child.take()) {
                let (_, remains) = child.reap();
                if let Some(set) = no_channels.as_mut() {
                    state.settle_remains(set, id, &remains);
                }
            }
            state.terminate(id, ExitReason::Killed);
        }
        for slot in state.actors.iter_mut() {
            if let Some(child) = slot.child.take() {
                child.reap();
            }
        }
        // The router has stopped: the timers handed back need no cancelling.
        state.asks.clear();
        // Last: the launcher's children die with its thread, and every child is gone by now.
        state.launcher.stop();
        let actors = state
            .actors
            .iter()
            .map(|s| actor_core::ActorReport {
                id: s.id,
                name: s.name.clone(),
                ledger: s.mailbox.ledger,
                restarts: s.restarts,
                exit: match &s.status {
                    Status::Gone(reason) => reason.clone(),
                    _ => ExitReason::Killed,
                },
            })
            .collect();
        let late_replies = state.asks.late_replies();
        // The host keeps every actor's slot: a spawn takes a process start (about a
        // millisecond), so this grows by a slot a millisecond at the most.
        let mut report = state.records.build(
            actors,
            actor_core::Forgotten::default(),
            late_replies,
            unresponsive,
        );
        report.dead_letters = state.decode_dead_letters(std::mem::take(&mut report.dead_letters));
        report
    }
}

thread_local! {
    /// Where a send from outside encodes its message, which the host then copies into its
    /// packed buffers (`packed.rs`): one buffer per sending thread, not one per message.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch buffer, emptied. The buffer is taken out while `f` runs,
/// so a send made inside it (a message's `Serialize` may send) or while this thread's locals are
/// being destroyed (from another local's `Drop`) gets a fresh one.
fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buffer = SCRATCH
        .try_with(|scratch| {
            scratch
                .try_borrow_mut()
                .map(|mut b| std::mem::take(&mut *b))
        })
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    buffer.clear();
    let result = f(&mut buffer);
    // A buffer grown by one big message is not kept.
    if buffer.capacity() <= 64 * 1024 {
        let _ = SCRATCH.try_with(|scratch| {
            if let Ok(mut kept) = scratch.try_borrow_mut() {
                *kept = buffer;
            }
        });
    }
    result
}

impl Backend for ProcessSystem {
    fn spawn_with<A: Actor>(
        &self,
        actor: A,
        options: SpawnOptions,
    ) -> Result<Addr<A::Msg>, SpawnError> {
        options.validate()?;
        if !lock(&self.host).stage.is_open() {
            return Err(SpawnError::ShuttingDown);
        }
        let payload = encode(&actor).map_err(SpawnError::Backend)?;
        lock(&self.host)
            .decoders
            .insert(TypeKey::of::<A::Msg>(), decoder_of::<A::Msg>);
        let (reply, result) = bounded(1);
        let request = SpawnRequest {
            entry: entry_of::<A>(),
            actor: payload,
            msg_type: MsgType::of::<A::Msg>(),
            options,
            reply,
        };
        self.host.command(Command::Spawn(request));
        match result.recv_timeout(Duration::from_secs(30)) {
            Ok(result) => result.map(Addr::from_id),
            Err(_) => Err(SpawnError::Backend(
                "the host did not answer the spawn".into(),
            )),
        }
    }

    fn send<M: Message>(&self, to: &impl ActorRef<M>, msg: M) -> Result<(), SendError<M>> {
        let to = to.id();
        with_scratch(|payload| {
            if let Err(e) = encode_into(&msg, payload) {
                return Err(SendError::new(to, SendFailure::Transport(e), msg));
            }
            let mut state = lock(&self.host);
            if !state.stage.is_open() {
                return Err(SendError::new(to, SendFailure::ShuttingDown, msg));
            }
            if payload.len() > state.max_frame {
                let why = format!(
                    "{} bytes encoded, over the frame limit of {}",
                    payload.len(),
                    state.max_frame
                );
                return Err(SendError::new(to, SendFailure::Transport(why), msg));
            }
            let delivery = DeliveryRef::Message {
                payload: Bytes(payload),
                ask: None,
                after: None,
            };
            let accepted = state.accept(to, Some(TypeKey::of::<M>()), &delivery, Admission::Fresh);
            // `msg` is dropped (on success) after the lock is given back: its `Drop` is the
            // user's code, and may send.
            drop(state);
            accepted.map_err(|reason| SendError::new(to, reason, msg))
        })
    }

    fn ask<M: Message, R: Message>(
        &self,
        to: &impl ActorRef<M>,
        make: impl FnOnce(ReplyTo<R>) -> M,
        timeout: Duration,
    ) -> Result<R, AskError> {
        // Read before the lock is taken: `id` may be the user's code.
        let to = to.id();
        let (reply, outcome) = OutsideAsk::new();
        let request = {
            let mut state = lock(&self.host);
            if !state.stage.is_open() {
                return Err(AskError::Rejected(SendFailure::ShuttingDown));
            }
            let request = state.asks.fresh_request();
            state
                .asks
                .open((Asker::External, request), PendingAsk::External(reply));
            request
        };
        let msg = make(ReplyTo::new(Asker::External, request));
        let payload = match encode(&msg) {
            Ok(payload) => payload,
            Err(e) => {
                lock(&self.host).asks.cancel(&(Asker::External, request));
                return Err(AskError::Rejected(SendFailure::Transport(e)));
            }
        };
        {
            let mut state = lock(&self.host);
            let delivery = DeliveryRef::Message {
                payload: Bytes(&payload),
                ask: Some((Asker::External, request)),
                after: None,
            };
            if let Err(reason) =
                state.accept(to, Some(TypeKey::of::<M>()), &delivery, Admission::Fresh)
            {
                state.asks.cancel(&(Asker::External, request));
                return Err(AskError::Rejected(reason));
            }
        }
        let take_back = || {
            lock(&self.host)
                .asks
                .cancel(&(Asker::External, request))
                .is_some()
        };
        let outcome = outcome.wait(timeout, take_back);
        outcome.and_then(|bytes| decode::<R>(&bytes).map_err(AskError::BadReply))
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }

    fn now(&self) -> Duration {
        lock(&self.host).now()
    }

    fn shutdown(mut self, mode: ShutdownMode, timeout: Duration) -> ShutdownReport {
        self.stop(mode, timeout)
    }
}

impl Drop for ProcessSystem {
    /// Dropping a system that was not shut down stops every process (killing what does not stop
    /// within five seconds) and reaps them all.
    fn drop(&mut self) {
        self.stop(ShutdownMode::DeadLetter, Duration::from_secs(5));
    }
}
