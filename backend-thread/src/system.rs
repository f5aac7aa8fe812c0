//! [`ThreadSystem`]: the [`Backend`] implementation, and the operations on the shared state
//! (`pool/shared.rs`) that put a message into a mailbox or build a cell. A send goes from
//! [`Shared::send`] into the receiver's [`Mailbox`] and schedules it; [`ActorCell::run`] (in
//! `runner.rs`) is where the handler is called.

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actor_core::kernel::{OutsideAsk, ReportBuilder, deadline_after, take_reply};
use actor_core::{
    Actor, ActorId, ActorRef, Addr, AskError, Asker, Backend, DeadLetterReason, Message, ReplyTo,
    SendError, SendFailure, ShutdownMode, ShutdownReport, SpawnError, SpawnOptions,
};
use crossbeam_channel::bounded;
use crossbeam_utils::CachePadded;

use crate::ask::{Asks, PendingAsk};
use crate::config::ThreadConfig;
use crate::lock;
use crate::mailbox::{Envelope, Mailbox, Pushed};
use crate::pool::cell::{ActorCell, is_dedicated};
use crate::pool::registry::{Entry, Registry};
use crate::pool::shared::Shared;
use crate::pool::threads::{self, Threads};
use crate::timer::Timers;

static SYSTEMS: AtomicU64 = AtomicU64::new(0);

impl Shared {
    /// The typed mailbox of `to`, or why there is none.
    #[inline]
    pub fn mailbox<M: Message>(
        &self,
        to: ActorId,
    ) -> Result<(&Arc<dyn Entry>, &Mailbox<M>), SendFailure> {
        let entry = self.entry(to).ok_or(SendFailure::UnknownActor)?;
        let mailbox = entry
            .mailbox_any()
            .downcast_ref::<Mailbox<M>>()
            .ok_or_else(|| {
                // A cell serves actors of one type only: an id past its uses so far was never
                // given out, whatever type the cell takes.
                if crate::pool::registry::use_of(to) > crate::pool::registry::use_of(entry.id()) {
                    SendFailure::UnknownActor
                } else {
                    SendFailure::WrongType {
                        expected: entry.message_type().to_string(),
                    }
                }
            })?;
        Ok((entry, mailbox))
    }

    /// The path of every send: into the receiver's queue, then schedule the receiver.
    #[inline]
    pub fn send<M: Message>(
        self: &Arc<Self>,
        to: ActorId,
        msg: M,
        request: Option<u64>,
    ) -> Result<(), SendError<M>> {
        debug_assert_ne!(request, Some(0), "request numbers start at 1");
        let request = request.and_then(NonZeroU64::new);
        self.push(to, Envelope { msg, request }).map(drop)
    }

    /// [`Shared::send`], telling whether the receiver's mailbox is unbounded. Always inlined:
    /// a send's message is then moved once less (callgrind: 12 instructions a message).
    #[inline(always)]
    pub fn push<M: Message>(
        self: &Arc<Self>,
        to: ActorId,
        env: Envelope<M>,
    ) -> Result<Pushed<'_>, SendError<M>> {
        let (entry, mailbox) = match self.mailbox::<M>(to) {
            Ok(found) => found,
            Err(reason) => return Err(SendError::new(to, reason, env.msg)),
        };
        match mailbox.push(to, env) {
            Ok(pushed) => {
                if pushed.idle {
                    entry.dispatch(self);
                }
                Ok(pushed)
            }
            Err(refused) => Err(SendError::new(to, refused.0, refused.1.msg)),
        }
    }

    /// Sets a timer for `to`: its message is accepted now (rule 9), checked like a send but
    /// not refused by a full mailbox, and queued when due.
    pub fn send_after<M: Message>(
        self: &Arc<Self>,
        to: ActorId,
        msg: M,
        delay: Duration,
    ) -> Result<(), SendError<M>> {
        let accepted = self
            .mailbox::<M>(to)
            .and_then(|(_, mailbox)| mailbox.accept_timer(to));
        if let Err(reason) = accepted {
            return Err(SendError::new(to, reason, msg));
        }
        let shared = Arc::clone(self);
        let _ = self.timers.add(
            delay,
            Box::new(move |fire| shared.deliver_timer(to, msg, fire)),
        );
        Ok(())
    }

    /// A timer's message, due (`fire`) or cancelled by shutdown: queued, or dead if its
    /// receiver is gone (`ReceiverGone`) or shutdown came first (`Shutdown`).
    fn deliver_timer<M: Message>(self: &Arc<Self>, to: ActorId, msg: M, fire: bool) {
        let Ok((entry, mailbox)) = self.mailbox::<M>(to) else {
            debug_assert!(
                false,
                "a timer for {to:?}, whose mailbox took it when it was set"
            );
            return;
        };
        match mailbox.push_timer(to, Envelope { msg, request: None }) {
            Ok(idle) => {
                if idle {
                    entry.dispatch(self);
                }
            }
            Err(env) => {
                let reason = if fire {
                    DeadLetterReason::ReceiverGone
                } else {
                    DeadLetterReason::Shutdown
                };
                self.dead_letter(to, reason, Some(Box::new(env.msg)));
            }
        }
    }

    pub fn spawn<A: Actor>(
        self: &Arc<Self>,
        actor: A,
        options: SpawnOptions,
        parent: Option<ActorId>,
    ) -> Result<Addr<A::Msg>, SpawnError> {
        options.validate()?;
        if self.closed.load(SeqCst) {
            return Err(SpawnError::ShuttingDown);
        }
        let (wake, woken) = if is_dedicated(&options) {
            let (wake, woken) = bounded(1);
            (Some(wake), Some(woken))
        } else {
            (None, None)
        };
        // A pool actor takes the cell of a gone actor of its type if there is one. The initial
        // state is cloned first: a clone that panics leaves no cell half made.
        let initial = actor.clone();
        let (initial, actor) = match woken {
            Some(_) => (initial, actor),
            None => match self.registry.reuse(
                threads::worker_index(self),
                initial,
                actor,
                &options,
                parent,
            ) {
                Ok((id, cell)) => {
                    self.spawned.fetch_add(1, SeqCst);
                    // Scheduled by `renew`: the first run starts it.
                    cell.dispatch(self);
                    return Ok(Addr::from_id(id));
                }
                Err(back) => back,
            },
        };
        let Some(cell) = self
            .registry
            .insert(|id| ActorCell::new(id, initial, actor, &options, parent, wake))
        else {
            return Err(SpawnError::Backend(
                "the registry did not take the actor".into(),
            ));
        };
        self.spawned.fetch_add(1, SeqCst);
        if let Some(woken) = woken
            && let Err(err) = threads::spawn_dedicated(self, Arc::clone(&cell), woken)
        {
            let why = format!("no thread for a dedicated actor: {err}");
            cell.abandon(self, why.clone());
            return Err(SpawnError::Backend(why));
        }
        // Scheduled from birth (`Mailbox::new`): the first run starts it.
        cell.dispatch(self);
        Ok(Addr::from_id(cell.id()))
    }
}

/// An actor system on threads: pool actors share a `rayon` pool (M:N), dedicated actors have a
/// thread each.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use actor_core::{Actor, ActorError, Backend, Context, ReplyTo, ShutdownMode};
/// use backend_thread::ThreadSystem;
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct Doubler;
/// impl Actor for Doubler {
///     type Msg = (u64, ReplyTo<u64>);
///     fn handle<C: Context<Self>>(&mut self, ctx: &mut C, (n, reply_to): Self::Msg) -> Result<(), ActorError> {
///         ctx.reply(reply_to, 2 * n);
///         Ok(())
///     }
/// }
///
/// let system = ThreadSystem::new().unwrap();
/// let doubler = system.spawn(Doubler).unwrap();
/// assert_eq!(system.ask(&doubler, |r| (21, r), Duration::from_secs(5)), Ok(42));
/// let report = system.shutdown(ShutdownMode::Drain, Duration::from_secs(5));
/// assert!(report.is_balanced());
/// ```
pub struct ThreadSystem {
    shared: Option<Arc<Shared>>,
    threads: Threads,
}

impl ThreadSystem {
    /// A system with a pool thread per core.
    ///
    /// # Errors
    /// The operating system refused a thread.
    pub fn new() -> std::io::Result<Self> {
        Self::with_config(ThreadConfig::default())
    }

    /// A system with the given configuration.
    ///
    /// # Errors
    /// The operating system refused a thread.
    pub fn with_config(config: ThreadConfig) -> std::io::Result<Self> {
        let system = SYSTEMS.fetch_add(1, SeqCst);
        let threads: Threads = Arc::default();
        let pool = threads::build(config.threads.max(1), system, &threads)
            .map_err(std::io::Error::other)?;
        let timers = Timers::start(format!("actors-{system}-timer"))?;
        let shared = Shared {
            system,
            registry: Registry::new(config.threads.max(1)),
            pool,
            ready: threads::ReadyQueue::new(config.threads.max(1)),
            threads: Arc::clone(&threads),
            timers,
            asks: Asks::default(),
            records: Mutex::new(ReportBuilder::new(config.dead_letters_kept)),
            closed: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            spawned: CachePadded::default(),
            ended: CachePadded::default(),
            started_at: Instant::now(),
            gone_reports: config.gone_reports,
        };
        Ok(Self {
            shared: Some(Arc::new(shared)),
            threads,
        })
    }

    fn shared(&self) -> Result<&Arc<Shared>, SendFailure> {
        match &self.shared {
            Some(shared) if !shared.closed.load(SeqCst) => Ok(shared),
            _ => Err(SendFailure::ShuttingDown),
        }
    }

    fn stop(&mut self, mode: ShutdownMode, timeout: Duration) -> ShutdownReport {
        let Some(shared) = self.shared.take() else {
            return ShutdownReport::default();
        };
        let deadline = deadline_after(timeout);
        shared.closed.store(true, SeqCst);
        if mode == ShutdownMode::Drain {
            // Idle twice with no message moving in between: nothing is left in flight.
            let mut last = None;
            while Instant::now() < deadline {
                let now = shared.activity();
                if now.2 && last == Some(now) {
                    break;
                }
                last = Some(now);
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        shared.stopping.store(true, SeqCst);
        for entry in shared.registry.cells() {
            if !entry.is_gone() {
                entry.order_shutdown(&shared);
            }
        }
        // Every actor gone, then every runner done: a gone pool actor is retired (its state
        // dropped, its report filed) by its runner after it is counted gone.
        while (shared.live() > 0 || !shared.registry.cells().all(|e| e.is_idle()))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        shared.timers.stop();
        let unresponsive: Vec<ActorId> = shared
            .registry
            .cells()
            .filter(|e| !e.is_gone() || !e.is_idle())
            .map(|e| e.id())
            .collect();
        let (actors, forgotten) = shared.registry.reports();
        let late_replies = {
            let mut asks = lock(&shared.asks);
            // The timer thread has stopped: the timers handed back need no cancelling.
            asks.clear();
            asks.late_replies()
        };
        let report =
            lock(&shared.records).build(actors, forgotten, late_replies, unresponsive.clone());
        if unresponsive.is_empty() {
            release(shared, &self.threads, deadline);
        }
        report
    }
}

/// Drops the last reference to the shared state (which ends the pool) and joins every thread,
/// waiting no later than `deadline`. A thread still running then is left, detached.
fn release(shared: Arc<Shared>, threads: &Threads, deadline: Instant) {
    let mut shared = shared;
    loop {
        match Arc::try_unwrap(shared) {
            Ok(last) => {
                drop(last);
                break;
            }
            // A pool job that has just run is dropping its reference.
            Err(still_shared) if Instant::now() < deadline => {
                shared = still_shared;
                std::thread::sleep(Duration::from_micros(100));
            }
            Err(_) => return,
        }
    }
    let handles = std::mem::take(&mut *lock(threads));
    for handle in handles {
        while !handle.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(100));
        }
        if handle.is_finished() {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
impl ThreadSystem {
    pub(crate) fn registry(&self) -> &Registry {
        &self.shared.as_ref().expect("not shut down").registry
    }
}

impl Backend for ThreadSystem {
    fn spawn_with<A: Actor>(
        &self,
        actor: A,
        options: SpawnOptions,
    ) -> Result<Addr<A::Msg>, SpawnError> {
        let shared = self.shared().map_err(|_| SpawnError::ShuttingDown)?;
        shared.spawn(actor, options, None)
    }

    fn send<M: Message>(&self, to: &impl ActorRef<M>, msg: M) -> Result<(), SendError<M>> {
        match self.shared() {
            Ok(shared) => shared.send(to.id(), msg, None),
            Err(reason) => Err(SendError::new(to.id(), reason, msg)),
        }
    }

    fn ask<M: Message, R: Message>(
        &self,
        to: &impl ActorRef<M>,
        make: impl FnOnce(ReplyTo<R>) -> M,
        timeout: Duration,
    ) -> Result<R, AskError> {
        let shared = self.shared().map_err(AskError::Rejected)?;
        let (reply, outcome) = OutsideAsk::new();
        let request = shared.open_ask(PendingAsk::External(reply));
        let msg = make(ReplyTo::new(Asker::External, request));
        if let Err(err) = shared.send(to.id(), msg, Some(request)) {
            shared.cancel_ask(request);
            return Err(AskError::Rejected(err.reason().clone()));
        }
        outcome
            .wait(timeout, || shared.cancel_ask(request))
            .and_then(take_reply::<R>)
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }

    fn now(&self) -> Duration {
        self.shared
            .as_ref()
            .map_or(Duration::ZERO, |shared| shared.now())
    }

    fn shutdown(mut self, mode: ShutdownMode, timeout: Duration) -> ShutdownReport {
        self.stop(mode, timeout)
    }
}

impl Drop for ThreadSystem {
    /// Dropping a system that was not shut down stops it without draining, waiting at most
    /// five seconds for handlers still running.
    fn drop(&mut self) {
        self.stop(ShutdownMode::DeadLetter, Duration::from_secs(5));
    }
}
