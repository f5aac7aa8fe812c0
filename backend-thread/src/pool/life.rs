//! [`Life`]: an actor's name, its watchers, why it ended, and the final reports of the earlier
//! actors its cell served.
//!
//! Kept under the mailbox lock (`mailbox/mod.rs`), not a lock of its own: the mailbox's owner and
//! its closing are what a watch has to be checked against, and one lock for both costs a spawn
//! (renew, watch) and an end (close, retire) one lock each instead of two, on a line that the
//! spawner and the actor's runner, often on different cores, take from each other.
//!
//! A gone actor's final report is kept compact ([`Retired`], 32 bytes where an
//! [`ActorReport`] is 96), and a cell keeps those of its last few actors only
//! (`ThreadConfig::gone_reports`): older ones are summed into [`Forgotten`], which the shutdown
//! report carries. Before, a cell kept every report, so a system that spawned short-lived
//! actors grew for as long as it ran, and got slower as it grew: 10k-actor rounds of spawn +
//! stop went from 300 ns an actor to 460-1,230 ns over 18M actors, and stayed at 300 ns with the
//! reports bounded (session 5).

use std::collections::VecDeque;

use actor_core::kernel::Watchers;
use actor_core::{ActorId, ActorReport, ExitReason, Forgotten, Ledger};

use super::registry::{Watched, use_of, with_use};

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
    watchers: Watchers,
    pub exit: Option<ExitReason>,
    /// The final reports of the last earlier actors the cell served, by use (see
    /// `registry.rs`), from use `first_kept` on.
    retired: VecDeque<Retired>,
    first_kept: u64,
    /// The earlier actors before `first_kept`, summed.
    forgotten: Forgotten,
    /// The whole final reports of the kept earlier actors that had a name or an unusual end,
    /// in use order.
    unusual: VecDeque<ActorReport>,
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
            watchers: Watchers::default(),
            exit: None,
            retired: VecDeque::new(),
            first_kept: 0,
            forgotten: Forgotten::default(),
            unusual: VecDeque::new(),
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
        self.watchers.add(watcher);
        Watched::Added
    }

    /// Records why the actor ended and takes its watchers, to be told: a watch from now on
    /// is answered from `exit`.
    #[inline]
    pub fn end(&mut self, reason: ExitReason) -> Watchers {
        self.exit = Some(reason);
        self.watchers.take()
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
    /// it serves the next one. Of the reports, `keep` at most are kept: the oldest is summed
    /// into the forgotten ones.
    #[inline]
    pub fn retire(&mut self, gone: ActorId, ledger: Ledger, restarts: u32, keep: usize) {
        debug_assert_eq!(
            use_of(gone),
            self.first_kept + self.retired.len() as u64,
            "one report a use"
        );
        let exit = self.exit.take().unwrap_or(ExitReason::Killed);
        let tag = match (&exit, &self.name) {
            (ExitReason::Stopped, None) => Exit::Stopped,
            (ExitReason::Shutdown, None) => Exit::Shutdown,
            (ExitReason::Killed, None) => Exit::Killed,
            _ => {
                self.unusual.push_back(ActorReport {
                    id: gone,
                    name: self.name.take(),
                    ledger,
                    restarts,
                    exit,
                });
                Exit::Unusual
            }
        };
        self.retired.push_back(Retired {
            ledger,
            restarts,
            exit: tag,
        });
        self.retired_accepted += ledger.accepted;
        self.retired_settled += ledger.handled + ledger.dead_letters;
        self.vacant = true;
        if self.retired.len() > keep {
            self.forget_oldest();
        }
    }

    /// Sums the oldest kept report into the forgotten ones.
    #[cold]
    fn forget_oldest(&mut self) {
        let Some(oldest) = self.retired.pop_front() else {
            return;
        };
        if oldest.exit == Exit::Unusual {
            // Reports are filed in use order: an unusual one is the oldest unusual one.
            self.unusual.pop_front();
        }
        self.forgotten.add(oldest.ledger, oldest.restarts);
        self.first_kept += 1;
    }

    /// The earlier actors whose reports are no longer kept, summed.
    pub fn forgotten(&self) -> Forgotten {
        self.forgotten
    }

    /// Where `id`'s report is kept, if it is: `Err(true)` if it was an earlier actor of the
    /// cell whose report is summed in `forgotten`, `Err(false)` if it is not an earlier actor.
    fn kept_at(&self, id: ActorId) -> Result<usize, bool> {
        let n = use_of(id);
        if n < self.first_kept {
            return Err(true);
        }
        usize::try_from(n - self.first_kept)
            .ok()
            .filter(|&at| at < self.retired.len())
            .ok_or(false)
    }

    /// The final report of `id`, an earlier actor of the cell whose report is kept, if it is
    /// one.
    fn retired_report(&self, id: ActorId) -> Option<ActorReport> {
        let retired = self.retired.get(self.kept_at(id).ok()?)?;
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

    /// The kept final reports of the earlier actors, in use order; `owner` is the actor
    /// served now (any actor of the cell gives the cell's index).
    pub fn retired_reports(&self, owner: ActorId, into: &mut Vec<ActorReport>) {
        let kept = self.first_kept..self.first_kept + self.retired.len() as u64;
        into.extend(kept.filter_map(|n| self.retired_report(with_use(owner, n))));
    }

    /// Why `id`, an earlier actor of the cell, ended (`Forgotten` if its report is no longer
    /// kept); `None` if it is not one.
    pub fn retired_exit(&self, id: ActorId) -> Option<ExitReason> {
        match self.kept_at(id) {
            Err(true) => Some(ExitReason::Forgotten),
            Err(false) => None,
            Ok(_) => self.retired_report(id).map(|report| report.exit),
        }
    }

    /// Counts one more message accepted and dead for `id`, an earlier actor of the cell (an
    /// ask's outcome that came after it was gone); `false` if `id` is not one.
    pub fn count_late(&mut self, id: ActorId) -> bool {
        self.count_late_as(id, 1)
    }

    /// Counts one more dead letter for `id`, an earlier actor of the cell, of a message
    /// already counted accepted (a timer, accepted when it was set, due after `id` was gone);
    /// `false` if `id` is not one.
    pub fn count_late_dead(&mut self, id: ActorId) -> bool {
        self.count_late_as(id, 0)
    }

    /// Counts one more dead letter for `id`, and `accepted` more accepted messages.
    fn count_late_as(&mut self, id: ActorId, accepted: u64) -> bool {
        let retired = match self.kept_at(id) {
            Ok(at) => &mut self.retired[at],
            Err(true) => {
                self.forgotten.ledger.accepted += accepted;
                self.forgotten.ledger.dead_letters += 1;
                self.retired_accepted += accepted;
                self.retired_settled += 1;
                return true;
            }
            Err(false) => return false,
        };
        retired.ledger.accepted += accepted;
        retired.ledger.dead_letters += 1;
        if retired.exit == Exit::Unusual {
            let at = self.unusual.binary_search_by_key(&id, |report| report.id);
            if let Some(report) = at.ok().and_then(|at| self.unusual.get_mut(at)) {
                report.ledger.accepted += accepted;
                report.ledger.dead_letters += 1;
            }
        }
        self.retired_accepted += accepted;
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
        life.retire(first, ledger, 1, usize::MAX);
        let second = with_use(first, 1);
        life.name = Some("named".into());
        life.end(ExitReason::Shutdown);
        life.retire(second, ledger, 0, usize::MAX);
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

    #[test]
    fn a_cell_keeps_its_last_reports_and_sums_the_others() {
        let mut life = Life::new(None);
        let first = ActorId::new(3);
        let ledger = Ledger {
            accepted: 2,
            handled: 1,
            dead_letters: 1,
        };
        for n in 0..10 {
            if n == 2 {
                // A failed one: its whole report is kept beside, and let go of with it.
                life.end(ExitReason::Failed(actor_core::Failure::Panic(
                    "boom".into(),
                )));
            } else {
                life.end(ExitReason::Stopped);
            }
            life.retire(with_use(first, n), ledger, 1, 4);
        }
        let mut reports = Vec::new();
        life.retired_reports(with_use(first, 10), &mut reports);
        let kept: Vec<ActorId> = reports.iter().map(|r| r.id).collect();
        assert_eq!(
            kept,
            (6..10).map(|n| with_use(first, n)).collect::<Vec<_>>()
        );
        assert!(
            life.unusual.is_empty(),
            "the failed one went with its report"
        );
        let forgotten = life.forgotten();
        assert_eq!((forgotten.actors, forgotten.restarts), (6, 6));
        assert_eq!(forgotten.ledger.accepted, 12);
        // A late message for a forgotten actor is counted with the forgotten ones; a watch of
        // one is told its end is no longer known; a use yet to come is no earlier actor.
        assert!(life.count_late(with_use(first, 0)));
        assert_eq!(life.forgotten().ledger.dead_letters, 7);
        assert!(life.forgotten().ledger.is_balanced());
        assert_eq!(
            life.retired_exit(with_use(first, 1)),
            Some(ExitReason::Forgotten)
        );
        assert_eq!(
            life.retired_exit(with_use(first, 9)),
            Some(ExitReason::Stopped)
        );
        assert_eq!(life.retired_exit(with_use(first, 10)), None);
        assert!(!life.count_late(with_use(first, 11)));
        assert_eq!(life.retired_activity(), (21, 21));
    }
}
