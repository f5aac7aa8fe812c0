//! [`Life`]: an actor's name, its watchers, why it ended, and the final reports of the earlier
//! actors its cell served.
//!
//! Kept under the mailbox lock (`mailbox.rs`), not a lock of its own: the mailbox's owner and
//! its closing are what a watch has to be checked against, and one lock for both costs a spawn
//! (renew, watch) and an end (close, retire) one lock each instead of two, on a line that the
//! spawner and the actor's runner, often on different cores, take from each other.
//!
//! A gone actor's final report is kept compact ([`Retired`], 32 bytes where an
//! [`ActorReport`] is 96): a system that spawns short-lived actors keeps one for each actor it
//! ever ran (the shutdown report lists them all), and filing it is on every actor's way out.

use actor_core::{ActorId, ActorReport, ExitReason, Ledger};

use crate::registry::{Watched, use_of, with_use};

/// A gone actor's final report as its cell keeps it. Its id is the cell's with the use it
/// was (its place in [`Life::retired`]); a name or a failure, rare, is kept whole beside.
#[derive(Clone, Copy)]
pub(crate) struct Retired {
    ledger: Ledger,
    restarts: u32,
    exit: Exit,
}

/// How a gone actor ended, as [`Retired`] keeps it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Exit {
    Stopped,
    Shutdown,
    Killed,
    /// Anything else, or a named actor: the whole report is in [`Life::unusual`].
    Unusual,
}

/// The actor's identity as reports show it, who watches it, and why it ended once it has.
pub(crate) struct Life {
    pub name: Option<String>,
    /// The first watcher, which most watched actors (children watched by their parent) have
    /// alone: kept inline, it costs no allocation.
    first: Option<ActorId>,
    more: Vec<ActorId>,
    pub exit: Option<ExitReason>,
    /// The final reports of the earlier actors the cell served, by use (see `registry.rs`).
    retired: Vec<Retired>,
    /// The whole final reports of the earlier actors that had a name or an unusual end, in
    /// use order.
    unusual: Vec<ActorReport>,
    /// Messages accepted, and settled (handled or dead), by the earlier actors: with the
    /// ledger of the actor served now, the cell's whole account, read in one lock (a
    /// retirement moves an actor's ledger here without changing the sum).
    retired_accepted: u64,
    retired_settled: u64,
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
            unusual: Vec::new(),
            retired_accepted: 0,
            retired_settled: 0,
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
    pub fn retire(&mut self, gone: ActorId, ledger: Ledger, restarts: u32) {
        debug_assert_eq!(use_of(gone), self.retired.len() as u64, "one report a use");
        let exit = self.exit.take().unwrap_or(ExitReason::Killed);
        let tag = match (&exit, &self.name) {
            (ExitReason::Stopped, None) => Exit::Stopped,
            (ExitReason::Shutdown, None) => Exit::Shutdown,
            (ExitReason::Killed, None) => Exit::Killed,
            _ => {
                self.unusual.push(ActorReport {
                    id: gone,
                    name: self.name.take(),
                    ledger,
                    restarts,
                    exit,
                });
                Exit::Unusual
            }
        };
        self.retired.push(Retired {
            ledger,
            restarts,
            exit: tag,
        });
        self.retired_accepted += ledger.accepted;
        self.retired_settled += ledger.handled + ledger.dead_letters;
        self.vacant = true;
    }

    /// The final report of `id`, an earlier actor of the cell, if it is one.
    fn retired_report(&self, id: ActorId) -> Option<ActorReport> {
        let retired = self.retired.get(usize::try_from(use_of(id)).ok()?)?;
        let exit = match retired.exit {
            Exit::Stopped => ExitReason::Stopped,
            Exit::Shutdown => ExitReason::Shutdown,
            Exit::Killed => ExitReason::Killed,
            Exit::Unusual => return self.unusual(id).cloned(),
        };
        Some(ActorReport {
            id,
            name: None,
            ledger: retired.ledger,
            restarts: retired.restarts,
            exit,
        })
    }

    fn unusual(&self, id: ActorId) -> Option<&ActorReport> {
        let at = self
            .unusual
            .binary_search_by_key(&id, |report| report.id)
            .ok()?;
        self.unusual.get(at)
    }

    /// The final reports of the earlier actors, in use order; `owner` is the actor served
    /// now (any actor of the cell gives the cell's index).
    pub fn retired_reports(&self, owner: ActorId, into: &mut Vec<ActorReport>) {
        into.extend(
            (0..self.retired.len() as u64).filter_map(|n| self.retired_report(with_use(owner, n))),
        );
    }

    /// Why `id`, an earlier actor of the cell, ended; `None` if it is not one.
    pub fn retired_exit(&self, id: ActorId) -> Option<ExitReason> {
        self.retired_report(id).map(|report| report.exit)
    }

    /// Counts one more message accepted and dead for `id`, an earlier actor of the cell (a
    /// timer that fired after it was gone); `false` if `id` is not one.
    pub fn count_late(&mut self, id: ActorId) -> bool {
        let Ok(n) = usize::try_from(use_of(id)) else {
            return false;
        };
        let Some(retired) = self.retired.get_mut(n) else {
            return false;
        };
        retired.ledger.accepted += 1;
        retired.ledger.dead_letters += 1;
        if retired.exit == Exit::Unusual {
            let at = self.unusual.binary_search_by_key(&id, |report| report.id);
            if let Some(report) = at.ok().and_then(|at| self.unusual.get_mut(at)) {
                report.ledger.accepted += 1;
                report.ledger.dead_letters += 1;
            }
        }
        self.retired_accepted += 1;
        self.retired_settled += 1;
        true
    }

    /// Messages accepted and settled by the earlier actors of the cell.
    pub fn retired_activity(&self) -> (u64, u64) {
        (self.retired_accepted, self.retired_settled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gone_actors_report_takes_32_bytes() {
        assert_eq!(std::mem::size_of::<Retired>(), 32);
    }

    #[test]
    fn a_gone_actors_report_comes_back_whole_with_or_without_a_name() {
        let mut life = Life::new(None);
        let ledger = Ledger {
            accepted: 3,
            handled: 2,
            dead_letters: 1,
        };
        let first = ActorId::new(7);
        life.end(ExitReason::Stopped);
        life.retire(first, ledger, 1);
        let second = with_use(first, 1);
        life.name = Some("named".into());
        life.end(ExitReason::Shutdown);
        life.retire(second, ledger, 0);
        assert!(life.count_late(second));
        assert!(!life.count_late(with_use(first, 2)), "not yet gone");
        let mut reports = Vec::new();
        life.retired_reports(with_use(first, 2), &mut reports);
        let late = Ledger {
            accepted: 4,
            handled: 2,
            dead_letters: 2,
        };
        assert_eq!(
            reports,
            [
                ActorReport {
                    id: first,
                    name: None,
                    ledger,
                    restarts: 1,
                    exit: ExitReason::Stopped
                },
                ActorReport {
                    id: second,
                    name: Some("named".into()),
                    ledger: late,
                    restarts: 0,
                    exit: ExitReason::Shutdown
                },
            ]
        );
        assert_eq!(life.retired_activity(), (7, 7));
        assert_eq!(life.retired_exit(second), Some(ExitReason::Shutdown));
    }
}
