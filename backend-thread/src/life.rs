//! [`Life`]: an actor's name, its watchers, why it ended, and the final reports of the earlier
//! actors its cell served.
//!
//! Kept under the mailbox lock (`mailbox.rs`), not a lock of its own: the mailbox's owner and
//! its closing are what a watch has to be checked against, and one lock for both costs a spawn
//! (renew, watch) and an end (close, retire) one lock each instead of two, on a line that the
//! spawner and the actor's runner, often on different cores, take from each other.

use actor_core::{ActorId, ActorReport, ExitReason};

use crate::registry::Watched;

/// The actor's identity as reports show it, who watches it, and why it ended once it has.
pub(crate) struct Life {
    pub name: Option<String>,
    /// The first watcher, which most watched actors (children watched by their parent) have
    /// alone: kept inline, it costs no allocation.
    first: Option<ActorId>,
    more: Vec<ActorId>,
    pub exit: Option<ExitReason>,
    /// The final reports of the earlier actors the cell served, by use (see `registry.rs`).
    pub retired: Vec<ActorReport>,
    /// Retired and not yet serving the next actor (the mailbox's owner): the cell reports no
    /// actor.
    pub vacant: bool,
}

impl Life {
    pub fn new(name: Option<String>) -> Self {
        Self {
            name,
            first: None,
            more: Vec::new(),
            exit: None,
            retired: Vec::new(),
            vacant: false,
        }
    }

    /// Registers `watcher` of `target`, where `owner` is the actor the cell serves now.
    #[inline]
    pub fn add_watcher(&mut self, owner: ActorId, target: ActorId, watcher: ActorId) -> Watched {
        if owner != target || self.vacant {
            return Watched::Stale;
        }
        if let Some(exit) = &self.exit {
            return Watched::Gone(exit.clone());
        }
        match self.first {
            None => self.first = Some(watcher),
            Some(first) if first == watcher => {}
            Some(_) if self.more.contains(&watcher) => {}
            Some(_) => self.more.push(watcher),
        }
        Watched::Added
    }

    /// Records why the actor ended and takes its watchers, to be told: a watch from now on
    /// is answered from `exit`.
    #[inline]
    pub fn end(&mut self, reason: ExitReason) -> (Option<ActorId>, Vec<ActorId>) {
        self.exit = Some(reason);
        (self.first.take(), std::mem::take(&mut self.more))
    }

    /// The report of the actor served now, `owner`.
    pub fn report(&self, owner: ActorId, ledger: actor_core::Ledger, restarts: u32) -> ActorReport {
        ActorReport {
            id: owner,
            name: self.name.clone(),
            ledger,
            restarts,
            exit: self.exit.clone().unwrap_or(ExitReason::Killed),
        }
    }

    /// Files the final report of the actor served until now, `gone`: the cell is vacant until
    /// it serves the next one.
    #[inline]
    pub fn retire(&mut self, gone: ActorId, ledger: actor_core::Ledger, restarts: u32) {
        let report = ActorReport {
            id: gone,
            name: self.name.take(),
            ledger,
            restarts,
            exit: self.exit.take().unwrap_or(ExitReason::Killed),
        };
        self.retired.push(report);
        self.vacant = true;
    }

    /// Applies `change` to the final report of `id`, an earlier actor of the cell; `false` if
    /// `id` is not one.
    pub fn change_retired(
        &mut self,
        id: ActorId,
        change: &mut dyn FnMut(&mut ActorReport),
    ) -> bool {
        // The n-th report is that of the cell's n-th use (see `registry.rs`).
        let found = usize::try_from(crate::registry::use_of(id))
            .ok()
            .and_then(|n| self.retired.get_mut(n));
        match found {
            Some(report) if report.id == id => {
                change(report);
                true
            }
            _ => false,
        }
    }
}
