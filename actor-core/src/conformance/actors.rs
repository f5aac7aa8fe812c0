//! The actors the suite runs. They report only through messages (to a [`Recorder`]), so they
//! work the same when they live in other processes.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{
    Actor, ActorError, ActorId, Addr, AskError, Context, ExitReason, Failure, ReplyTo, SendError,
    SendFailure, Signal, SpawnOptions, Supervision,
};

/// Something a test actor did, as the recorder saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// `actor` handled the message tagged `tag` (and returned `Ok`).
    Handled {
        /// Who handled it.
        actor: ActorId,
        /// The message's tag.
        tag: u64,
    },
    /// `actor` ran `started` successfully.
    Started {
        /// Who started.
        actor: ActorId,
    },
    /// `actor` received a signal.
    Signal {
        /// Who received it.
        actor: ActorId,
        /// The signal.
        signal: Signal,
    },
    /// The outcome of an `ask` that `actor` made from inside a handler.
    AskOutcome {
        /// Who asked.
        actor: ActorId,
        /// What came back.
        outcome: Result<u64, AskError>,
    },
    /// A timer `actor` set fired.
    TimerFired {
        /// Who set it.
        actor: ActorId,
        /// The tag it carried.
        tag: u64,
        /// The clock when it was set and when it was handled.
        set_at: Duration,
        /// The clock when it was handled.
        fired_at: Duration,
    },
    /// `actor` has had the outcomes of `completed` of its asks, `failed` of them not a reply.
    AsksCompleted {
        /// Who asked.
        actor: ActorId,
        /// How many asks have ended.
        completed: u64,
        /// How many of them ended without a reply.
        failed: u64,
    },
    /// What came of the sends (or timers) `actor` made from inside one handler, in the order
    /// made: the tags of the `Work` messages accepted, and each refusal.
    Sent {
        /// Who sent.
        actor: ActorId,
        /// Whether these were timers (`send_after`) rather than plain sends.
        timers: bool,
        /// The tags of the messages whose send returned `Ok`.
        accepted: Vec<u64>,
        /// The sends that returned an error.
        refused: Vec<Refusal>,
    },
}

/// A send from inside a handler that returned an error, as the handler saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The tag of the `Work` message sent.
    pub tag: u64,
    /// Why it was refused.
    pub reason: SendFailure,
    /// The tag of the `Work` message the error gave back (`None` if it gave back another).
    pub returned: Option<u64>,
}

impl Refusal {
    fn of(tag: u64, err: SendError<WorkerMsg>) -> Self {
        let reason = err.reason().clone();
        let returned = match err.into_message() {
            WorkerMsg::Work(t) => Some(t),
            _ => None,
        };
        Self {
            tag,
            reason,
            returned,
        }
    }
}

/// Keeps every event it is sent, in arrival order, and hands out copies.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Recorder {
    events: Vec<Event>,
}

/// Messages to a [`Recorder`].
#[derive(Debug, Serialize, Deserialize)]
pub enum RecorderMsg {
    /// Keep this event.
    Event(Event),
    /// Reply with every event so far.
    Events(ReplyTo<Vec<Event>>),
}

impl Actor for Recorder {
    type Msg = RecorderMsg;

    fn handle<C: Context<Self>>(
        &mut self,
        ctx: &mut C,
        msg: RecorderMsg,
    ) -> Result<(), ActorError> {
        match msg {
            RecorderMsg::Event(event) => self.events.push(event),
            RecorderMsg::Events(reply_to) => ctx.reply(reply_to, self.events.clone()),
        }
        Ok(())
    }
}

/// A scripted actor: each [`WorkerMsg`] says what to do. It records every message it handles
/// successfully, so the recorder's events are the ground truth of what was handled.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Worker {
    /// Where events go.
    pub recorder: Option<Addr<RecorderMsg>>,
    /// Fail in `started`, every time.
    pub fail_in_started: bool,
    /// Panic in `stopped`.
    pub panic_in_stopped: bool,
    /// Fail on a child's escalation, as the default [`Actor::signal`] does, after recording it.
    pub fails_on_escalation: bool,
    /// A request kept to be answered later.
    #[serde(skip)]
    held: Option<ReplyTo<u64>>,
    /// Messages handled since the last (re)start.
    handled_since_start: u64,
}

impl Worker {
    /// A worker that records to `recorder`.
    pub fn new(recorder: Addr<RecorderMsg>) -> Self {
        Self {
            recorder: Some(recorder),
            ..Self::default()
        }
    }

    /// The same worker, panicking in `stopped`.
    pub fn panicking_in_stopped(self) -> Self {
        Self {
            panic_in_stopped: true,
            ..self
        }
    }

    /// The same worker, failing on a child's escalation as the default [`Actor::signal`] does.
    pub fn failing_on_escalation(self) -> Self {
        Self {
            fails_on_escalation: true,
            ..self
        }
    }

    /// The same worker, failing in `started`.
    pub fn failing_in_started(self) -> Self {
        Self {
            fail_in_started: true,
            ..self
        }
    }

    fn record<C: Context<Self>>(&self, ctx: &mut C, event: Event) -> Result<(), ActorError> {
        if let Some(recorder) = &self.recorder {
            ctx.send(recorder, RecorderMsg::Event(event))
                .map_err(|e| ActorError::new(format!("recorder: {e}")))?;
        }
        Ok(())
    }

    fn handled<C: Context<Self>>(&mut self, ctx: &mut C, tag: u64) -> Result<(), ActorError> {
        self.handled_since_start += 1;
        let actor = ctx.myself().id_of();
        self.record(ctx, Event::Handled { actor, tag })
    }

    fn record_sent<C: Context<Self>>(
        &self,
        ctx: &mut C,
        timers: bool,
        accepted: Vec<u64>,
        refused: Vec<Refusal>,
    ) -> Result<(), ActorError> {
        let actor = ctx.myself().id_of();
        self.record(
            ctx,
            Event::Sent {
                actor,
                timers,
                accepted,
                refused,
            },
        )
    }
}

/// What a [`Worker`] is told to do.
#[derive(Debug, Serialize, Deserialize)]
pub enum WorkerMsg {
    /// Record `Handled { tag }`.
    Work(u64),
    /// Return an error.
    Fail(u64),
    /// Panic.
    Panic(u64),
    /// Record, then stop.
    Stop(u64),
    /// Record, then reply with the value.
    Echo(u64, ReplyTo<u64>),
    /// Record, then reply with how many messages this instance has handled (this one included).
    Count(u64, ReplyTo<u64>),
    /// Record, and keep the request unanswered until [`WorkerMsg::Release`].
    Hold(u64, ReplyTo<u64>),
    /// Record, and answer the held request with the value.
    Release(u64),
    /// Panic while holding a request.
    PanicOnAsk(ReplyTo<u64>),
    /// Record, then send `count` [`WorkerMsg::Work`] messages tagged `first..first + count` to `to`.
    Burst {
        /// This message's own tag.
        tag: u64,
        /// The receiver.
        to: Addr<WorkerMsg>,
        /// The first tag sent.
        first: u64,
        /// How many to send.
        count: u64,
    },
    /// Record, then ask `to` to echo `value` (or, with `hold`, to hold the request unanswered);
    /// the outcome is recorded as an `AskOutcome`.
    AskOther {
        /// This message's own tag.
        tag: u64,
        /// Who to ask.
        to: Addr<WorkerMsg>,
        /// The value to echo.
        value: u64,
        /// Ask with `Hold` instead of `Echo`: no reply until `to` gets a `Release`.
        hold: bool,
        /// The ask's timeout.
        timeout: Duration,
    },
    /// The outcome of an `AskOther`, delivered as a message.
    AskDone(Result<u64, AskError>),
    /// Record, then watch `target`.
    Watch(u64, ActorId),
    /// Record, then spawn a child worker with this supervision and reply with its address.
    SpawnChild {
        /// This message's own tag.
        tag: u64,
        /// The child's supervision.
        supervision: Supervision,
        /// Whether the child fails in `started`.
        fail_in_started: bool,
        /// Whether the child fails on an escalation from a child of its own.
        fails_on_escalation: bool,
        /// Where the child's address goes.
        reply: ReplyTo<Addr<WorkerMsg>>,
    },
    /// Record, then send itself `Fired` after `delay`.
    Schedule {
        /// This message's own tag (the timer carries it too).
        tag: u64,
        /// The delay.
        delay: Duration,
    },
    /// A timer set by `Schedule`.
    Fired {
        /// The tag.
        tag: u64,
        /// The clock when it was set.
        set_at: Duration,
    },
    /// Keep the actor busy for `duration` of wall-clock time (a thread sleep, so it is busy on
    /// every backend; on the inline backend the caller's thread sleeps), then record
    /// `Handled { tag }`, or, with `fail`, return an error instead.
    Sleep {
        /// This message's own tag.
        tag: u64,
        /// How long to sleep.
        duration: Duration,
        /// Fail after the sleep.
        fail: bool,
    },
    /// Record, then send `count` [`WorkerMsg::Work`] messages tagged `first..first + count` to
    /// `to` (with `delay`, as timers through `send_after`), going on after a refusal, and
    /// record what came of them as one [`Event::Sent`].
    Probe {
        /// This message's own tag.
        tag: u64,
        /// The receiver.
        to: Addr<WorkerMsg>,
        /// The first tag sent.
        first: u64,
        /// How many to send.
        count: u64,
        /// Send as timers, after this delay.
        delay: Option<Duration>,
    },
    /// Record, then send [`WorkerMsg::Work`] messages tagged from `first` on to `to` until one
    /// is refused (at most `limit`), then at once a timer `Work(timer)` to `to` after `delay`;
    /// record the sends and then the timer as two [`Event::Sent`].
    FillThenTimer {
        /// This message's own tag.
        tag: u64,
        /// The receiver.
        to: Addr<WorkerMsg>,
        /// The first tag sent.
        first: u64,
        /// The most plain sends made.
        limit: u64,
        /// The timer's tag.
        timer: u64,
        /// The timer's delay.
        delay: Duration,
    },
}

/// The id behind an address, as a short method for the suite.
trait IdOf {
    fn id_of(&self) -> ActorId;
}

impl<M: 'static> IdOf for Addr<M> {
    fn id_of(&self) -> ActorId {
        crate::ActorRef::id(self)
    }
}

impl Actor for Worker {
    type Msg = WorkerMsg;

    fn started<C: Context<Self>>(&mut self, ctx: &mut C) -> Result<(), ActorError> {
        if self.fail_in_started {
            return Err(ActorError::new("told to fail in started"));
        }
        let actor = ctx.myself().id_of();
        self.record(ctx, Event::Started { actor })
    }

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: WorkerMsg) -> Result<(), ActorError> {
        match msg {
            WorkerMsg::Work(tag) => self.handled(ctx, tag),
            WorkerMsg::Fail(tag) => Err(ActorError::new(format!("told to fail at {tag}"))),
            WorkerMsg::Panic(tag) => panic!("told to panic at {tag}"),
            WorkerMsg::Stop(tag) => {
                self.handled(ctx, tag)?;
                ctx.stop();
                Ok(())
            }
            WorkerMsg::Echo(value, reply_to) => {
                self.handled(ctx, value)?;
                ctx.reply(reply_to, value);
                Ok(())
            }
            WorkerMsg::Count(tag, reply_to) => {
                self.handled(ctx, tag)?;
                ctx.reply(reply_to, self.handled_since_start);
                Ok(())
            }
            WorkerMsg::Hold(tag, reply_to) => {
                self.held = Some(reply_to);
                self.handled(ctx, tag)
            }
            WorkerMsg::Release(value) => {
                self.handled(ctx, value)?;
                if let Some(reply_to) = self.held.take() {
                    ctx.reply(reply_to, value);
                }
                Ok(())
            }
            WorkerMsg::PanicOnAsk(_reply_to) => panic!("told to panic while asked"),
            WorkerMsg::Burst {
                tag,
                to,
                first,
                count,
            } => {
                self.handled(ctx, tag)?;
                for n in first..first + count {
                    ctx.send(&to, WorkerMsg::Work(n))
                        .map_err(|e| ActorError::new(e.to_string()))?;
                }
                Ok(())
            }
            WorkerMsg::AskOther {
                tag,
                to,
                value,
                hold,
                timeout,
            } => {
                self.handled(ctx, tag)?;
                let make = |reply_to| {
                    if hold {
                        WorkerMsg::Hold(value, reply_to)
                    } else {
                        WorkerMsg::Echo(value, reply_to)
                    }
                };
                ctx.ask(&to, make, timeout, WorkerMsg::AskDone)
                    .map_err(|e| ActorError::new(e.to_string()))
            }
            WorkerMsg::AskDone(outcome) => {
                let actor = ctx.myself().id_of();
                self.record(ctx, Event::AskOutcome { actor, outcome })
            }
            WorkerMsg::Watch(tag, target) => {
                self.handled(ctx, tag)?;
                ctx.watch(&Addr::<WorkerMsg>::from_id(target));
                Ok(())
            }
            WorkerMsg::SpawnChild {
                tag,
                supervision,
                fail_in_started,
                fails_on_escalation,
                reply,
            } => {
                self.handled(ctx, tag)?;
                let child = Worker {
                    recorder: self.recorder,
                    fails_on_escalation,
                    ..Worker::default()
                };
                let child = if fail_in_started {
                    child.failing_in_started()
                } else {
                    child
                };
                let addr = ctx
                    .spawn(child, SpawnOptions::new().supervision(supervision))
                    .map_err(|e| ActorError::new(e.to_string()))?;
                ctx.reply(reply, addr);
                Ok(())
            }
            WorkerMsg::Schedule { tag, delay } => {
                self.handled(ctx, tag)?;
                let set_at = ctx.now();
                let me = ctx.myself();
                ctx.send_after(&me, WorkerMsg::Fired { tag, set_at }, delay)
                    .map_err(|e| ActorError::new(e.to_string()))
            }
            WorkerMsg::Sleep {
                tag,
                duration,
                fail,
            } => {
                std::thread::sleep(duration);
                if fail {
                    return Err(ActorError::new(format!("told to fail at {tag}")));
                }
                self.handled(ctx, tag)
            }
            WorkerMsg::Probe {
                tag,
                to,
                first,
                count,
                delay,
            } => {
                self.handled(ctx, tag)?;
                let (mut accepted, mut refused) = (Vec::new(), Vec::new());
                for n in first..first + count {
                    let sent = match delay {
                        None => ctx.send(&to, WorkerMsg::Work(n)),
                        Some(delay) => ctx.send_after(&to, WorkerMsg::Work(n), delay),
                    };
                    match sent {
                        Ok(()) => accepted.push(n),
                        Err(err) => refused.push(Refusal::of(n, err)),
                    }
                }
                self.record_sent(ctx, delay.is_some(), accepted, refused)
            }
            WorkerMsg::FillThenTimer {
                tag,
                to,
                first,
                limit,
                timer,
                delay,
            } => {
                self.handled(ctx, tag)?;
                let (mut accepted, mut refused) = (Vec::new(), Vec::new());
                for n in first..first + limit {
                    match ctx.send(&to, WorkerMsg::Work(n)) {
                        Ok(()) => accepted.push(n),
                        Err(err) => {
                            refused.push(Refusal::of(n, err));
                            break;
                        }
                    }
                }
                let scheduled = ctx.send_after(&to, WorkerMsg::Work(timer), delay);
                self.record_sent(ctx, false, accepted, refused)?;
                match scheduled {
                    Ok(()) => self.record_sent(ctx, true, vec![timer], Vec::new()),
                    Err(err) => {
                        self.record_sent(ctx, true, Vec::new(), vec![Refusal::of(timer, err)])
                    }
                }
            }
            WorkerMsg::Fired { tag, set_at } => {
                let actor = ctx.myself().id_of();
                let fired_at = ctx.now();
                self.record(
                    ctx,
                    Event::TimerFired {
                        actor,
                        tag,
                        set_at,
                        fired_at,
                    },
                )
            }
        }
    }

    /// Records every signal; fails on an escalation only if told to (so tests see it).
    fn signal<C: Context<Self>>(&mut self, ctx: &mut C, signal: Signal) -> Result<(), ActorError> {
        let actor = ctx.myself().id_of();
        self.record(
            ctx,
            Event::Signal {
                actor,
                signal: signal.clone(),
            },
        )?;
        match signal {
            Signal::Escalated { child, failure } if self.fails_on_escalation => {
                Err(ActorError::from_failure(Failure::Escalation {
                    child,
                    cause: Box::new(failure),
                }))
            }
            _ => Ok(()),
        }
    }

    fn stopped(&mut self) {
        if self.panic_in_stopped {
            panic!("told to panic in stopped");
        }
    }
}

/// The exit reason a test expects of a worker that failed past its limit with a panic.
pub fn failed_with_panic(reason: &ExitReason) -> bool {
    matches!(reason, ExitReason::Failed(Failure::Panic(_)))
}
