//! Death watch: who watches an actor, what they are told when it ends, and what a watch of an
//! actor already gone (or never known) answers at once.

use crate::addr::ActorId;
use crate::supervision::{ExitReason, Signal};

/// The actors watching one actor, each once. The first is kept inline: most watched actors
/// (children watched by their parent) have one watcher, and it costs no allocation.
///
/// # Example
/// ```
/// use actor_core::{ActorId, ExitReason, Signal};
/// use actor_core::kernel::Watchers;
/// let mut watchers = Watchers::default();
/// watchers.add(ActorId::new(1));
/// watchers.add(ActorId::new(1));
/// watchers.add(ActorId::new(2));
/// let told: Vec<_> = watchers.take().notices(ActorId::new(9), &ExitReason::Stopped).collect();
/// assert_eq!(told.len(), 2);
/// assert!(watchers.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Watchers {
    first: Option<ActorId>,
    more: Vec<ActorId>,
}

impl Watchers {
    /// Adds `watcher`, unless it watches already.
    pub fn add(&mut self, watcher: ActorId) {
        match self.first {
            None => self.first = Some(watcher),
            Some(first) if first == watcher => {}
            Some(_) if self.more.contains(&watcher) => {}
            Some(_) => self.more.push(watcher),
        }
    }

    /// Whether no actor watches.
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// Takes every watcher out, leaving none (the watched actor has ended).
    pub fn take(&mut self) -> Self {
        std::mem::take(self)
    }

    /// The [`Signal::Terminated`] each watcher is to receive, now that `target` has ended for
    /// `reason`.
    pub fn notices(
        self,
        target: ActorId,
        reason: &ExitReason,
    ) -> impl Iterator<Item = (ActorId, Signal)> {
        let reason = reason.clone();
        self.first.into_iter().chain(self.more).map(move |watcher| {
            let signal = Signal::Terminated {
                id: target,
                reason: reason.clone(),
            };
            (watcher, signal)
        })
    }
}

/// The signal a watch of `target` gets at once when the target is not alive: why it ended, if
/// the backend knows it (`None`: no actor with this id was ever spawned).
///
/// # Example
/// ```
/// use actor_core::{ActorId, ExitReason, Signal};
/// use actor_core::kernel::terminated;
/// let target = ActorId::new(3);
/// assert_eq!(terminated(target, None), Signal::Terminated { id: target, reason: ExitReason::NoSuchActor });
/// ```
pub fn terminated(target: ActorId, exit: Option<ExitReason>) -> Signal {
    Signal::Terminated {
        id: target,
        reason: exit.unwrap_or(ExitReason::NoSuchActor),
    }
}
