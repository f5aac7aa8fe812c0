//! [`Shared`]: the state every thread of one system shares (the registry of cells, the pool,
//! the timers, the asks, what the report records), and the operations on it that reach no
//! further than this folder. The operations that reach a mailbox, a timer or an ask live with
//! what they reach: a send and a spawn in `system.rs`, an ask's in `ask.rs`. The hub dispatches
//! runners through the registry's [`Entry`], so it imports no runner, context or supervisor.

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actor_core::kernel::{ReportBuilder, Stage, terminated};
use actor_core::{ActorId, DeadLetterReason, ExitReason, FailureRecord};
use crossbeam_utils::CachePadded;

use super::registry::{Entry, Registry, Watched};
use super::threads::{ReadyQueue, Threads};
use crate::ask::Asks;
use crate::lock;
use crate::timer::Timers;

/// The state every thread of one system shares.
pub(crate) struct Shared {
    /// This system's number, in thread names.
    pub system: u64,
    pub registry: Registry,
    pub pool: rayon::ThreadPool,
    /// Pool actors waiting for a worker, oldest first (see `pool/threads.rs`).
    pub ready: ReadyQueue,
    /// Every thread started for this system: pool workers and dedicated actors.
    pub threads: Threads,
    pub timers: Arc<Timers>,
    pub asks: Asks,
    /// Failures, escalations and the dead-letter log, for the report.
    pub records: Mutex<ReportBuilder>,
    /// Set when shutdown begins: sends from outside and spawns are refused.
    pub closed: AtomicBool,
    /// Set when actors are to stop (after the drain, in drain mode): no actor starts another
    /// message.
    pub stopping: AtomicBool,
    /// Actors spawned, and actors gone (their difference: those alive). Two counters on lines
    /// of their own, not one: a spawner and the runners of ending actors, on other cores,
    /// would otherwise take the line from each other at every spawn and every end.
    pub spawned: CachePadded<AtomicUsize>,
    pub ended: CachePadded<AtomicUsize>,
    pub started_at: Instant,
    /// How many gone actors' own reports each cell keeps (`ThreadConfig::gone_reports`).
    pub gone_reports: usize,
}

impl Shared {
    /// The cell that serves or served actor `id`: whether it still serves `id` is checked
    /// where it acts (see `pool/registry.rs`).
    pub fn entry(&self, id: ActorId) -> Option<&Arc<dyn Entry>> {
        self.registry.cell(id)
    }

    pub fn now(&self) -> Duration {
        self.started_at.elapsed()
    }

    pub fn watch(self: &Arc<Self>, watcher: ActorId, target: ActorId) {
        let gone = match self
            .entry(target)
            .map(|entry| entry.add_watcher(target, watcher))
        {
            Some(Watched::Added) => return,
            Some(Watched::Gone(reason)) => reason,
            Some(Watched::Stale) => self
                .registry
                .exit_of(target)
                .unwrap_or(ExitReason::NoSuchActor),
            None => ExitReason::NoSuchActor,
        };
        if let Some(entry) = self.entry(watcher) {
            entry.signal(self, watcher, terminated(target, Some(gone)));
        }
    }

    /// Keeps a dead letter's message for the report (the ledger counts it already).
    pub fn dead_letter(
        &self,
        to: ActorId,
        reason: DeadLetterReason,
        message: Option<Box<dyn Any + Send>>,
    ) {
        lock(&self.records).dead_letter(to, reason, message);
    }

    pub fn record_failure(&self, record: FailureRecord) {
        lock(&self.records).failure(record);
    }

    pub fn record_escalation(&self, record: FailureRecord) {
        lock(&self.records).escalation(record);
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(SeqCst)
    }

    /// Where the system is in its life, for supervision.
    pub fn stage(&self) -> Stage {
        if self.is_stopping() {
            Stage::Stopping
        } else if self.closed.load(SeqCst) {
            Stage::Draining
        } else {
            Stage::Running
        }
    }

    pub fn actor_gone(&self) {
        self.ended.fetch_add(1, SeqCst);
    }

    /// Actors spawned and not yet gone.
    pub fn live(&self) -> usize {
        // Ended first: every end counted comes after its spawn's count, so the difference read
        // this way is never negative.
        let ended = self.ended.load(SeqCst);
        self.spawned.load(SeqCst).saturating_sub(ended)
    }

    /// Total messages accepted and settled (handled or dead) over all actors, and whether every
    /// actor is idle.
    pub fn activity(&self) -> (u64, u64, bool) {
        let (mut accepted, mut settled) = (0, 0);
        let mut idle = true;
        for entry in self.registry.cells() {
            // A cell's account covers the actors it served before too: an actor retired
            // during the scan moves its ledger within its cell, changing no sum.
            let (cell_accepted, cell_settled) = entry.activity();
            accepted += cell_accepted;
            settled += cell_settled;
            idle &= entry.is_idle();
        }
        (accepted, settled, idle)
    }
}
