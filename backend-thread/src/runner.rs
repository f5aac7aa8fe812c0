//! The run loop: what an actor's cell (`pool/cell.rs`) does whenever the actor is scheduled.
//! It handles the system messages, then a batch of messages, each under the kernel's `catch`,
//! then gives the thread back and runs again later if work is left; a gone actor's cell is
//! retired here, to serve the next actor of its type. The registry reaches this code through
//! its `Entry` trait, implemented here, so nothing below imports the runner.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{Ordering::Relaxed, Ordering::SeqCst};

use actor_core::kernel::{catch, catch_stopped, stopped_failure};
use actor_core::{
    Actor, ActorId, ActorReport, AskError, DeadLetterReason, ExitReason, Failure, Forgotten,
    Ledger, Phase, Signal,
};

use crate::context::ThreadContext;
use crate::mailbox::{Envelope, Next, SysMsg, Take};
use crate::pool::cell::{ActorCell, Instance, Status};
use crate::pool::registry::{Entry, Watched};
use crate::pool::shared::Shared;
use crate::pool::threads;
use crate::supervisor;

/// Messages a pool actor handles before it lets other actors have the thread.
pub(crate) const BUDGET: usize = 64;

impl<A: Actor> ActorCell<A> {
    /// Ends a gone actor's use of the cell, on the thread that ran it last (where the cell is
    /// in cache, and off the path of whoever spawns next): its state is dropped (releasing what
    /// it held), its final report goes with the cell's earlier ones, and the mailbox waits,
    /// closed, for the cell's next actor, whose id is returned. `None` for a dedicated actor
    /// (its cell goes with its thread: only its state is dropped) or a cell whose uses are
    /// spent. Called by the runner holding the schedule, which it gives up here.
    fn retire(&self, shared: &Arc<Shared>, handled: u64) -> Option<ActorId> {
        let gone = self.id();
        self.drop_state(shared);
        let Some(next) = crate::pool::registry::next_use(gone).filter(|_| !self.dedicated()) else {
            // A dedicated actor's cell goes with its thread; a cell whose uses are spent is
            // left gone.
            self.mailbox.release(handled);
            return None;
        };
        // Only the runner changes the count (`supervisor::fail`), so a load and a store lose
        // no update, where a swap was one more full barrier.
        let restarts = self.restarts.load(Relaxed);
        self.restarts.store(0, Relaxed);
        // Under the mailbox lock: a late message for `gone` is refused from now on, and its
        // report is already where the refusal counts it.
        self.mailbox.retire(handled, next, |ledger: Ledger, life| {
            life.retire(gone, ledger, restarts, shared.gone_reports);
        });
        Some(next)
    }

    /// Drops a gone actor's state (releasing what it held: a file, a socket). Called by the
    /// runner holding the schedule, before it gives it up, so a shutdown waits for it.
    fn drop_state(&self, shared: &Arc<Shared>) {
        // SAFETY: the caller holds the schedule of a gone actor whose mailbox is closed, so
        // nothing schedules it again, and the cell is not yet on the free list.
        #[allow(unsafe_code)]
        let state = unsafe { self.instance.get() }.take();
        // The actor's own `Drop` may panic: that is its failure, not the worker's.
        if let Err(caught) = catch_stopped(move || drop(state)) {
            shared.record_failure(stopped_failure(self.id(), caught));
        }
    }

    /// Ends an actor that could not be given a thread: it never ran.
    pub fn abandon(&self, shared: &Arc<Shared>, why: String) {
        // A new actor is scheduled from birth (`Mailbox::new`), and its wake-up would go to a
        // thread that does not exist: nothing else can ever run this actor.
        self.mailbox.claim();
        // SAFETY: no runner exists or can start (above), so this is the only reference.
        #[allow(unsafe_code)]
        let Some(instance) = (unsafe { self.instance.get() }).as_mut() else {
            return;
        };
        let reason = ExitReason::Failed(Failure::Transport(why));
        supervisor::terminate(self, instance, shared, reason);
        // Gone and closed: give the schedule back, so the actor counts as idle.
        self.mailbox.release(0);
    }

    /// Handles system messages, then up to a budget of messages (no limit on a dedicated
    /// thread), then gives the thread back, and runs again later if work is left.
    pub fn run(&self, shared: &Arc<Shared>) {
        let after = {
            // SAFETY: `run` is only called by the holder of the schedule (a pool job or a
            // dedicated thread's wake-up each follow one successful claim), and the reference
            // is not used after the schedule is given up (`Next::Idle`, dropped in the loop below, and
            // `release`).
            #[allow(unsafe_code)]
            let Some(instance) = (unsafe { self.instance.get() }).as_mut() else {
                // A retired cell's mailbox is closed: nothing schedules it. Had something, it
                // has nothing to run.
                self.mailbox.release(0);
                return;
            };
            let mut budget = if self.dedicated() { usize::MAX } else { BUDGET };
            // Messages taken this run: every `BUDGET` of them (and first of all) the runner
            // looks at the system queue, even on a dedicated thread that has no budget.
            let mut taken_in_run = 0usize;
            loop {
                if instance.status == Status::Gone {
                    // Its system queue is empty: `terminate` took it in the lock that closed the
                    // mailbox, and a closed mailbox queues nothing more (every push checks).
                    // A closed mailbox takes no more work: the schedule is given up for good.
                    break After::Retire(std::mem::take(&mut instance.unsettled));
                }
                if instance.status == Status::Starting {
                    supervisor::start(self, instance, shared);
                    // `ctx.stop()` in `started` takes effect now, not at the next message.
                    self.stop_if_requested(instance, shared);
                    continue;
                }
                // A spent budget is renewed while no actor waits for a worker: yielding then
                // would only cost a trip through the ready queue back to this actor.
                if budget == 0 && !shared.ready.has_waiting() {
                    budget = BUDGET;
                }
                // Shutdown stops every actor at once: none starts another message.
                let take = if shared.is_stopping() {
                    Take::SysOrNothing
                } else if budget > 0 {
                    Take::Any
                } else {
                    Take::SysOnly
                };
                let next = self.mailbox.next(
                    &mut instance.unsettled,
                    take,
                    // A dedicated actor's handlers may be long: it looks before every message.
                    self.dedicated() || taken_in_run % BUDGET == 0,
                );
                match next {
                    Next::Sys(sys) => {
                        let handled = self.handle_sys(instance, shared, sys);
                        instance.unsettled += handled;
                    }
                    Next::Msg(env) => {
                        budget -= 1;
                        taken_in_run += 1;
                        let handled = self.handle(instance, shared, env);
                        instance.unsettled += handled;
                    }
                    Next::Idle(unlock) if take == Take::SysOrNothing => {
                        // The schedule is kept: nothing passes to another runner.
                        drop(unlock);
                        self.handle_sys(instance, shared, SysMsg::Shutdown);
                    }
                    // The schedule was given up under the mailbox lock: `instance` is not
                    // touched again, a send from now on may start another runner.
                    // The schedule is given up as the lock is, here, after `next`'s borrows
                    // of the state have ended; `instance` is not touched again.
                    Next::Idle(unlock) => {
                        drop(unlock);
                        break After::Nothing;
                    }
                    Next::Yield => break After::Again,
                }
                self.stop_if_requested(instance, shared);
            }
        };
        match after {
            After::Nothing => {}
            // Behind the actors already waiting, not in this worker's next slot: a busy actor
            // gives its turn to the others.
            After::Again => match &self.wake {
                Some(_) => self.dispatch(shared),
                None => threads::spawn_job(shared, self.id()),
            },
            // The state is no longer borrowed: the cell can serve the next actor of its type.
            After::Retire(handled) => {
                if let Some(next) = self.retire(shared, handled) {
                    shared
                        .registry
                        .recycle::<A>(next, threads::worker_index(shared));
                }
            }
        }
    }

    /// Stops a running actor whose handler called `ctx.stop()`.
    fn stop_if_requested(&self, instance: &mut Instance<A>, shared: &Arc<Shared>) {
        if instance.status == Status::Running && self.stop_requested.load(Relaxed) {
            supervisor::run_stopped(self, instance, shared);
            supervisor::terminate(self, instance, shared, ExitReason::Stopped);
        }
    }

    /// Makes a scheduled actor run: a pool job (or the worker's next slot), or a wake-up of its
    /// dedicated thread.
    fn dispatch(&self, shared: &Arc<Shared>) {
        match &self.wake {
            // A full wake channel already holds a wake-up.
            Some(wake) => drop(wake.try_send(())),
            None => threads::run_soon(shared, self.id()),
        }
    }

    /// Handles a message; 1 if it counts as handled, 0 if it became a dead letter.
    fn handle(
        &self,
        instance: &mut Instance<A>,
        shared: &Arc<Shared>,
        env: Envelope<A::Msg>,
    ) -> u64 {
        let Envelope { msg, request } = env;
        let result = {
            let mut ctx = ThreadContext::new(shared, self, self.outbox(&mut instance.outbox));
            catch(Phase::Handle, || instance.current.handle(&mut ctx, msg))
        };
        match result {
            Ok(()) => 1,
            Err(caught) => {
                // The message was moved into the handler: the dead letter cannot hold it.
                self.mailbox.count_dead();
                shared.dead_letter(self.id(), DeadLetterReason::FailedWhileHandling, None);
                if let Some(request) = request {
                    let outcome = Err(AskError::ReceiverFailed(caught.failure.clone()));
                    shared.complete_ask(request.get(), outcome);
                }
                supervisor::fail(self, instance, shared, caught);
                0
            }
        }
    }

    /// Handles a system message; 1 if it was a message that counts as handled.
    fn handle_sys(
        &self,
        instance: &mut Instance<A>,
        shared: &Arc<Shared>,
        sys: SysMsg<A::Msg>,
    ) -> u64 {
        match sys {
            // Shutdown has begun: no message starts any more, a fired timer's or an ask's
            // outcome included; it is a dead letter like the ones still queued.
            SysMsg::Deliver(env) if shared.is_stopping() => {
                self.mailbox.count_dead();
                if let Some(request) = env.request {
                    shared.complete_ask(request.get(), Err(AskError::ReceiverStopped));
                }
                shared.dead_letter(
                    self.id(),
                    DeadLetterReason::Shutdown,
                    Some(Box::new(env.msg)),
                );
            }
            SysMsg::Outcome(_) if shared.is_stopping() => {
                self.mailbox.count_dead();
                shared.dead_letter(self.id(), DeadLetterReason::Shutdown, None);
            }
            SysMsg::Deliver(env) => return self.handle(instance, shared, env),
            SysMsg::Outcome(make) => match catch(Phase::Handle, || Ok(make())) {
                Ok(msg) => return self.handle(instance, shared, Envelope { msg, request: None }),
                Err(caught) => {
                    self.mailbox.count_dead();
                    shared.dead_letter(self.id(), DeadLetterReason::FailedWhileHandling, None);
                    supervisor::fail(self, instance, shared, caught);
                }
            },
            SysMsg::Signal(signal) => {
                let result = {
                    let mut ctx =
                        ThreadContext::new(shared, self, self.outbox(&mut instance.outbox));
                    catch(Phase::Signal, || instance.current.signal(&mut ctx, signal))
                };
                if let Err(caught) = result {
                    supervisor::fail(self, instance, shared, caught);
                }
            }
            SysMsg::Shutdown => {
                if instance.status == Status::Running {
                    supervisor::run_stopped(self, instance, shared);
                }
                supervisor::terminate(self, instance, shared, ExitReason::Shutdown);
            }
        }
        0
    }
}

impl<A: Actor> Entry for ActorCell<A> {
    fn cell_any(&self) -> &dyn Any {
        self
    }

    fn mailbox_any(&self) -> &dyn Any {
        &self.mailbox
    }

    fn id(&self) -> ActorId {
        ActorCell::id(self)
    }

    fn message_type(&self) -> &'static str {
        std::any::type_name::<A::Msg>()
    }

    fn dispatch(&self, shared: &Arc<Shared>) {
        ActorCell::dispatch(self, shared);
    }

    fn run(&self, shared: &Arc<Shared>) {
        ActorCell::run(self, shared);
    }

    fn signal(&self, shared: &Arc<Shared>, to: ActorId, signal: Signal) -> bool {
        match self.mailbox.push_sys(to, SysMsg::Signal(signal)) {
            Some(true) => self.dispatch(shared),
            Some(false) => {}
            None => return false,
        }
        true
    }

    fn add_watcher(&self, target: ActorId, watcher: ActorId) -> Watched {
        self.mailbox
            .life(|owner, life| life.add_watcher(owner, target, watcher))
    }

    fn order_shutdown(&self, shared: &Arc<Shared>) {
        if self.mailbox.push_sys(self.id(), SysMsg::Shutdown) == Some(true) {
            self.dispatch(shared);
        }
    }

    fn is_gone(&self) -> bool {
        self.gone.load(SeqCst)
    }

    fn is_idle(&self) -> bool {
        !self.mailbox.is_busy()
    }

    fn reports(&self, into: &mut Vec<ActorReport>, forgotten: &mut Forgotten) {
        let restarts = self.restarts.load(SeqCst);
        self.mailbox.life_and_ledger(|owner, ledger, life| {
            *forgotten += life.forgotten();
            life.retired_reports(owner, into);
            if !life.vacant {
                into.push(life.report(owner, ledger, restarts));
            }
        });
    }

    fn retired_exit(&self, id: ActorId) -> Option<ExitReason> {
        self.mailbox.life(|_, life| life.retired_exit(id))
    }

    fn activity(&self) -> (u64, u64) {
        self.mailbox.activity()
    }
}
/// What a run leaves to do once the actor's state is no longer touched.
enum After {
    Nothing,
    /// Still scheduled: run again, after the actors waiting.
    Again,
    /// The actor is gone, with this many messages handled and not yet settled: it is retired
    /// (see [`ActorCell::retire`]) and a pool actor's cell freed.
    Retire(u64),
}
