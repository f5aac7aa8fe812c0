//! What a system records while it runs for its shutdown report: every failure, the escalations
//! that reached the root, and the dead letters as far as the log's bound.

use std::any::Any;

use crate::addr::ActorId;
use crate::report::{
    ActorReport, DeadLetter, DeadLetterReason, FailureRecord, Forgotten, ShutdownReport,
};

/// The records a system keeps for its report, and the report built from them.
///
/// The dead-letter log is bounded (`dead_letters_kept`), so that a system that dead-letters
/// for ever does not grow for ever; the exact counts are on each actor's ledger, which the
/// backend keeps.
///
/// # Example
/// ```
/// use actor_core::{ActorId, DeadLetterReason};
/// use actor_core::kernel::ReportBuilder;
/// let mut records = ReportBuilder::new(1);
/// records.dead_letter(ActorId::new(1), DeadLetterReason::Shutdown, None);
/// records.dead_letter(ActorId::new(1), DeadLetterReason::Shutdown, None);
/// let report = records.build(Vec::new(), Default::default(), 0, Vec::new());
/// assert_eq!(report.dead_letters.len(), 1, "the log keeps one");
/// ```
#[derive(Debug)]
pub struct ReportBuilder {
    failures: Vec<FailureRecord>,
    escalations: Vec<FailureRecord>,
    dead_letters: Vec<DeadLetter>,
    dead_letters_kept: usize,
}

impl ReportBuilder {
    /// No records; a dead-letter log of at most `dead_letters_kept` letters.
    pub fn new(dead_letters_kept: usize) -> Self {
        Self {
            failures: Vec::new(),
            escalations: Vec::new(),
            dead_letters: Vec::new(),
            dead_letters_kept,
        }
    }

    /// Records a failure, as supervision decided it.
    pub fn failure(&mut self, record: FailureRecord) {
        self.failures.push(record);
    }

    /// Records a failure that reached the system root.
    pub fn escalation(&mut self, record: FailureRecord) {
        self.escalations.push(record);
    }

    /// The last failure recorded of `actor`.
    pub fn last_failure_of(&self, actor: ActorId) -> Option<&FailureRecord> {
        self.failures.iter().rev().find(|f| f.actor == actor)
    }

    /// Logs a dead letter (already counted on its receiver's ledger), with its message where
    /// the backend still holds it, if the log has room.
    pub fn dead_letter(
        &mut self,
        to: ActorId,
        reason: DeadLetterReason,
        message: Option<Box<dyn Any + Send>>,
    ) {
        if self.dead_letters.len() < self.dead_letters_kept {
            self.dead_letters.push(DeadLetter {
                to,
                reason,
                message,
            });
        }
    }

    /// The report: every actor's, the forgotten ones' sum, and these records (taken: the
    /// builder is left empty).
    pub fn build(
        &mut self,
        actors: Vec<ActorReport>,
        forgotten: Forgotten,
        late_replies: u64,
        unresponsive: Vec<ActorId>,
    ) -> ShutdownReport {
        ShutdownReport {
            actors,
            forgotten,
            failures: std::mem::take(&mut self.failures),
            escalations: std::mem::take(&mut self.escalations),
            dead_letters: std::mem::take(&mut self.dead_letters),
            late_replies,
            unresponsive,
        }
    }
}
