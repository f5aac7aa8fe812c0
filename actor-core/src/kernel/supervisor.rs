//! The supervision decision: restart an actor that failed, or stop it and pass the failure up.
//!
//! A backend learns of a failure its own way (a caught panic, a closed channel to a process);
//! what follows is decided here, the same on every backend: within its [`RestartBudget`] an
//! actor is restarted from its initial state and keeps its queue, past it (or under
//! [`Supervision::Stop`]) it stops, its queue becomes dead letters, and the failure escalates to
//! its parent, or to the system root if it has none alive. A failure while the system drains is
//! supervised as at any other time; once actors are told to stop, nothing restarts.

use std::collections::VecDeque;
use std::time::Duration;

use crate::addr::ActorId;
use crate::kernel::hook::Caught;
use crate::report::{DeadLetterReason, FailureRecord};
use crate::supervision::{ExitReason, Signal, Supervision};

/// Where a system is in its life, as supervision sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stage {
    /// Running: sends and spawns from outside are taken.
    #[default]
    Running,
    /// `shutdown(Drain)` is draining: nothing new comes from outside, and actors handle what is
    /// queued. A failure is supervised as while running (a restart within the limit keeps the
    /// queue draining).
    Draining,
    /// Actors are being stopped (after the drain, or at once in `DeadLetter` mode): a failure
    /// stops the actor; nothing restarts.
    Stopping,
}

impl Stage {
    /// Whether a failure at this stage may restart its actor.
    pub fn restarts(self) -> bool {
        self != Self::Stopping
    }

    /// Whether sends and spawns from outside any actor are still taken.
    pub fn is_open(self) -> bool {
        self == Self::Running
    }
}

/// A record of recent restarts, checked against a [`Supervision`] policy: the restart limit per
/// time window (OTP's intensity and period).
///
/// # Example
/// ```
/// use std::time::Duration;
/// use actor_core::{RestartLimit, Supervision};
/// use actor_core::kernel::RestartBudget;
/// let mut budget = RestartBudget::new(Supervision::Restart(RestartLimit::new(1, Duration::from_secs(1))));
/// assert!(budget.try_restart(Duration::from_millis(0)));
/// assert!(!budget.try_restart(Duration::from_millis(10)));   // second failure within 1 s
/// assert!(budget.try_restart(Duration::from_millis(2000)));  // the window has moved on
/// ```
#[derive(Clone, Debug)]
pub struct RestartBudget {
    policy: Supervision,
    recent: VecDeque<Duration>,
}

impl RestartBudget {
    /// A budget with no restarts spent.
    pub fn new(policy: Supervision) -> Self {
        Self {
            policy,
            recent: VecDeque::new(),
        }
    }

    /// Called on a failure at time `now` (the backend's clock): `true` if the actor is to be
    /// restarted (and the restart is counted), `false` if it must stop and escalate.
    pub fn try_restart(&mut self, now: Duration) -> bool {
        let Supervision::Restart(limit) = self.policy else {
            return false;
        };
        while let Some(&oldest) = self.recent.front() {
            if now.saturating_sub(oldest) >= limit.within {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        if self.recent.len() >= limit.max_restarts as usize {
            return false;
        }
        self.recent.push_back(now);
        true
    }
}

/// Decides what becomes of `actor` after the failure `caught` at time `now` (the backend's
/// clock) and `stage`: the record says whether it is restarted. (A failure in `stopped` is
/// never restarted: see [`stopped_failure`].)
///
/// # Example
/// ```
/// use std::time::Duration;
/// use actor_core::{ActorId, Failure, Phase, Supervision};
/// use actor_core::kernel::{Caught, RestartBudget, Stage, supervise};
/// let mut budget = RestartBudget::new(Supervision::default());
/// let caught = Caught { phase: Phase::Handle, failure: Failure::Error("bad".into()) };
/// let actor = ActorId::new(1);
/// assert!(supervise(&mut budget, Stage::Draining, Duration::ZERO, actor, caught.clone()).restarted);
/// assert!(!supervise(&mut budget, Stage::Stopping, Duration::ZERO, actor, caught).restarted);
/// ```
pub fn supervise(
    budget: &mut RestartBudget,
    stage: Stage,
    now: Duration,
    actor: ActorId,
    caught: Caught,
) -> FailureRecord {
    let restarted =
        caught.phase != crate::Phase::Stopped && stage.restarts() && budget.try_restart(now);
    FailureRecord {
        actor,
        phase: caught.phase,
        failure: caught.failure,
        restarted,
    }
}

/// The record of a failure in an actor's `stopped` hook: only recorded, never restarted (the
/// actor is ending anyway).
pub fn stopped_failure(actor: ActorId, caught: Caught) -> FailureRecord {
    FailureRecord {
        actor,
        phase: caught.phase,
        failure: caught.failure,
        restarted: false,
    }
}

/// Where a failure that stopped its actor goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Escalation {
    /// To the parent, as this signal. If the backend finds the parent gone when it delivers it,
    /// the failure goes to the root instead.
    Parent {
        /// The actor that spawned the one that failed.
        parent: ActorId,
        /// [`Signal::Escalated`] with the child and its failure.
        signal: Signal,
    },
    /// To the system root: the report's escalations.
    Root(FailureRecord),
}

/// Where the failure `record` (of an actor that stopped) escalates: to `parent` if the backend
/// believes it alive, else to the root.
pub fn escalation(record: &FailureRecord, parent: Option<ActorId>) -> Escalation {
    match parent {
        Some(parent) => Escalation::Parent {
            parent,
            signal: Signal::Escalated {
                child: record.actor,
                failure: record.failure.clone(),
            },
        },
        None => Escalation::Root(record.clone()),
    }
}

/// The reason an ending actor's queued messages become dead letters: stopped by the system
/// (shut down, or killed at its end), or gone on its own (it stopped or failed for good).
///
/// # Example
/// ```
/// use actor_core::{DeadLetterReason, ExitReason};
/// use actor_core::kernel::supervisor::dead_letter_reason;
/// assert_eq!(dead_letter_reason(&ExitReason::Shutdown), DeadLetterReason::Shutdown);
/// assert_eq!(dead_letter_reason(&ExitReason::Stopped), DeadLetterReason::ReceiverGone);
/// ```
pub fn dead_letter_reason(exit: &ExitReason) -> DeadLetterReason {
    match exit {
        ExitReason::Shutdown | ExitReason::Killed => DeadLetterReason::Shutdown,
        _ => DeadLetterReason::ReceiverGone,
    }
}
