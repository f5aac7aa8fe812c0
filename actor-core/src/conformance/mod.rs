//! The conformance suite: the rules of the repository's `docs/rules.md` as tests, written once and generic
//! over a [`Backend`], so every backend proves the same guarantees.
//!
//! A backend runs the whole suite from its tests with one macro call, given a function that
//! builds a system from a seed (backends without a scheduler seed ignore it):
//!
//! ```ignore
//! actor_core::conformance_tests!(|seed| backend_inline::InlineSystem::with_seed(seed));
//! ```
//!
//! The suite observes actors only through messages (a [`Recorder`](actors::Recorder) actor
//! collects what the others did) and through the backend's public API (`send`, `ask`, the
//! shutdown report), so it runs unchanged when each actor lives in another process.
//!
//! Property tests ([`props`]) generate both the workload and the seed; proptest shrinks a
//! failure to a minimal workload and prints it with its seed. Their case count is
//! `PROPTEST_CASES` if set, otherwise [`DEFAULT_CASES`].

pub mod actors;
pub mod ask;
pub mod delivery;
pub mod props;
pub mod shutdown;
pub mod supervision;

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use crate::{Addr, Backend};
use actors::{Event, RecorderMsg};

/// How long the suite waits for something that should happen (an `ask` timeout, a poll).
pub const WAIT: Duration = Duration::from_secs(10);

/// Property-test cases per property when `PROPTEST_CASES` is not set.
pub const DEFAULT_CASES: u32 = 64;

/// Every event the recorder has so far.
///
/// # Panics
/// If the recorder does not answer (this is test code).
pub fn events<B: Backend>(system: &B, recorder: &Addr<RecorderMsg>) -> Vec<Event> {
    system
        .ask(recorder, RecorderMsg::Events, WAIT)
        .expect("the recorder answers")
}

/// Polls the recorder until `done` holds for its events, and returns them.
///
/// # Panics
/// If `done` does not hold within [`WAIT`]; the message shows the events seen.
pub fn wait_for<B: Backend>(
    system: &B,
    recorder: &Addr<RecorderMsg>,
    done: impl Fn(&[Event]) -> bool,
) -> Vec<Event> {
    wait_for_within(system, recorder, WAIT, done)
}

/// [`wait_for`] with a limit of its own, for a workload that takes longer than [`WAIT`] on
/// some backend (it polls every millisecond of the backend's clock all the same).
///
/// # Panics
/// If `done` does not hold within `limit` of wall time; the message shows the events seen.
pub fn wait_for_within<B: Backend>(
    system: &B,
    recorder: &Addr<RecorderMsg>,
    limit: Duration,
    done: impl Fn(&[Event]) -> bool,
) -> Vec<Event> {
    let deadline = crate::kernel::deadline_after(limit);
    loop {
        let seen = events(system, recorder);
        if done(&seen) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met within {limit:?}; events: {seen:#?}"
        );
        system.sleep(Duration::from_millis(1));
    }
}

/// The rules whose test measures the whole process, and so runs alone.
const MEASURES_THE_PROCESS: &[&str] = &["ask::completed_asks_leave_no_timer_behind"];

/// Taken shared by every rule's test, and alone by one in [`MEASURES_THE_PROCESS`].
static RULES: RwLock<()> = RwLock::new(());

/// A rule's turn to run: beside others, or alone.
enum Turn<'a> {
    Shared(#[allow(dead_code)] RwLockReadGuard<'a, ()>),
    Alone(#[allow(dead_code)] RwLockWriteGuard<'a, ()>),
}

/// Runs one rule's test, `name` (`module::test`). A rule in `known_gaps` (with why the backend
/// does not keep it yet) must fail: it is reported and passes, and if it ever holds the test
/// fails, so that the gap is taken off the list as soon as it is closed. A gap is a bug the
/// project tracks, never a way to skip a rule quietly.
///
/// # Panics
/// If the rule fails (and is not a known gap), or holds while listed as a known gap.
pub fn run_rule(name: &str, known_gaps: &[(&str, &str)], test: impl FnOnce()) {
    // A rule that measures the process (its resident memory) runs while no other rule of the
    // same test binary does: the others' allocations would be counted as its own.
    let _turn = if MEASURES_THE_PROCESS.contains(&name) {
        Turn::Alone(RULES.write().unwrap_or_else(PoisonError::into_inner))
    } else {
        Turn::Shared(RULES.read().unwrap_or_else(PoisonError::into_inner))
    };
    let Some((_, why)) = known_gaps.iter().find(|(gap, _)| *gap == name) else {
        return test();
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(test));
    assert!(
        outcome.is_err(),
        "{name} holds on this backend now: take it off the known gaps ({why})"
    );
    eprintln!("known gap, still failing as expected: {name}: {why}");
}

/// Expands to one `#[test]` per rule of the suite, each building its system with `$make`, a
/// closure from a seed (`u64`) to a [`Backend`]. A backend that does not keep a rule yet lists
/// it, with the reason, in `known_gaps = ["module::test" => "why", ...]` (see [`run_rule`]).
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!($make, known_gaps = []);
    };
    ($make:expr, known_gaps = [$($gap:literal => $why:expr),* $(,)?]) => {
        $crate::conformance_tests!(@tests $make, [$(($gap, $why)),*];
            delivery::per_pair_fifo_with_many_senders,
            delivery::queued_messages_survive_restart,
            delivery::crashing_message_is_not_redelivered,
            delivery::full_mailbox_gives_the_message_back,
            delivery::capacity_one_works_with_backpressure,
            delivery::send_to_stopped_actor_gives_the_message_back,
            delivery::unknown_actor_and_wrong_type_are_errors,
            delivery::invalid_capacity_is_refused,
            delivery::timer_fires_after_its_delay,
            delivery::a_timer_is_refused_at_the_call_like_a_send,
            delivery::a_timer_to_a_full_mailbox_is_accepted_and_delivered,
            delivery::a_timer_whose_receiver_stops_first_is_a_dead_letter_on_its_ledger,
            delivery::a_handler_send_to_a_stopped_receiver_gives_the_message_back,
            delivery::a_handler_send_to_an_unknown_receiver_gives_the_message_back,
            delivery::a_handler_send_to_a_full_receiver_gives_the_message_back,
            delivery::send_timeout_gives_up_on_the_backends_clock,
            ask::ask_returns_the_reply,
            ask::ask_times_out_and_late_reply_is_counted,
            ask::ask_to_a_stopped_actor_is_rejected,
            ask::ask_queued_behind_a_stop_reports_receiver_stopped,
            ask::ask_whose_receiver_panics_reports_the_failure,
            ask::ask_from_a_handler_arrives_as_a_message,
            ask::ask_from_a_handler_times_out_as_a_message,
            ask::completed_asks_leave_no_timer_behind,
            supervision::restarts_up_to_the_limit_then_escalates,
            supervision::failure_in_started_counts_against_the_limit,
            supervision::escalation_to_the_root_is_reported,
            supervision::an_unhandled_escalation_travels_two_levels_up,
            supervision::ref_taken_before_restart_reaches_the_restarted_actor,
            supervision::panic_in_stopped_is_reported,
            supervision::watch_delivers_terminated_on_stop,
            supervision::watch_delivers_terminated_with_the_failure,
            supervision::watching_a_dead_actor_delivers_terminated_at_once,
            shutdown::drain_handles_everything_queued,
            shutdown::dead_letter_mode_balances_the_ledger,
            shutdown::stop_with_queued_messages_dead_letters_them,
            shutdown::pending_timers_become_dead_letters,
            shutdown::stop_in_started_takes_effect_at_once,
            shutdown::a_failure_while_draining_is_restarted_and_its_queue_drains,
            shutdown::dead_letter_mode_restarts_nothing,
            shutdown::shutdown_runs_the_stopped_hook_of_every_started_actor,
            props::conservation_under_random_crashes_stops_and_restarts,
            props::fifo_per_pair_under_random_senders,
        );
    };
    (@tests $make:expr, $gaps:tt; $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::conformance::run_rule(
                    concat!(stringify!($module), "::", stringify!($name)),
                    &$gaps,
                    || $crate::conformance::$module::$name(&$make),
                );
            }
        )*
    };
}
