//! The thread backend's own edges, beyond the conformance suite: storms of failures, sends
//! racing a stop from many threads, many actors, blocking sends from outside.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use actor_core::conformance::actors::{Recorder, Worker, WorkerMsg};
use actor_core::{
    Actor, ActorError, ActorRef, Backend, Context, ExitReason, RestartLimit, SendFailure,
    ShutdownMode, SpawnOptions, Supervision,
};
use actors::Sleeper;
use backend_thread::{ThreadConfig, ThreadSystem};

const WAIT: Duration = Duration::from_secs(10);

/// Small actors for these tests.
mod actors {
    use super::*;

    /// Sleeps for the number of milliseconds it receives.
    #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
    pub struct Sleeper;

    impl Actor for Sleeper {
        type Msg = u64;
        fn handle<C: Context<Self>>(&mut self, _: &mut C, millis: u64) -> Result<(), ActorError> {
            std::thread::sleep(Duration::from_millis(millis));
            Ok(())
        }
    }
}

#[test]
fn a_handler_that_panics_on_every_message_reaches_its_limit_and_balances() {
    let system = ThreadSystem::new().unwrap();
    let recorder = system.spawn(Recorder::default()).unwrap();
    let limit = Supervision::Restart(RestartLimit::new(3, Duration::from_secs(60)));
    let worker = system
        .spawn_with(
            Worker::new(recorder),
            SpawnOptions::new().supervision(limit),
        )
        .unwrap();
    let mut accepted = 0;
    for tag in 0..100 {
        if system.send(&worker, WorkerMsg::Panic(tag)).is_ok() {
            accepted += 1;
        }
    }
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let actor = report.actor(worker.id()).unwrap();
    assert_eq!(actor.restarts, 3);
    assert!(matches!(actor.exit, ExitReason::Failed(_)));
    assert_eq!(actor.ledger.accepted, accepted);
    assert_eq!(actor.ledger.handled, 0);
    assert!(report.is_balanced());
    assert_eq!(report.escalations.len(), 1);
    assert_eq!(
        report
            .failures
            .iter()
            .filter(|f| f.actor == worker.id())
            .count(),
        4
    );
}

#[test]
fn sends_racing_a_stop_from_many_threads_are_refused_or_accounted() {
    for round in 0..20 {
        let system = ThreadSystem::new().unwrap();
        let worker = system.spawn(Worker::default()).unwrap();
        let accepted = AtomicU64::new(0);
        std::thread::scope(|scope| {
            for sender in 0..4u64 {
                let (system, accepted) = (&system, &accepted);
                scope.spawn(move || {
                    for n in 0..5_000 {
                        let msg = if sender == 0 && n == 1_000 + round * 50 {
                            WorkerMsg::Stop(n)
                        } else {
                            WorkerMsg::Work(n)
                        };
                        match system.send(&worker, msg) {
                            Ok(()) => {
                                accepted.fetch_add(1, SeqCst);
                            }
                            Err(err) => assert_eq!(err.reason(), &SendFailure::Stopped),
                        }
                    }
                });
            }
        });
        let report = system.shutdown(ShutdownMode::Drain, WAIT);
        let actor = report.actor(worker.id()).unwrap();
        assert_eq!(
            actor.ledger.accepted,
            accepted.load(SeqCst),
            "round {round}"
        );
        assert!(
            actor.ledger.is_balanced(),
            "round {round}: {:?}",
            actor.ledger
        );
        assert_eq!(actor.exit, ExitReason::Stopped);
    }
}

#[test]
fn a_hundred_thousand_actors_spawn_and_stop_on_the_pool() {
    // Every gone actor's report is kept, so that each can be checked: by default a cell keeps
    // its last 64, and how many actors a cell serves depends on timing.
    let system =
        ThreadSystem::with_config(ThreadConfig::default().gone_reports(usize::MAX)).unwrap();
    let stopped = spawn_and_stop_from_outside(&system, 100_000);
    assert_eq!(stopped, 100_000);
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert_eq!(report.actors.len(), 100_000);
    assert!(report.is_balanced());
    assert_eq!(
        report
            .actors
            .iter()
            .filter(|a| a.exit == ExitReason::Stopped)
            .count(),
        100_000
    );
}

/// Spawns `count` workers from outside, tells each to stop, and waits until each refuses sends.
fn spawn_and_stop_from_outside(system: &ThreadSystem, count: u64) -> u64 {
    let workers: Vec<_> = (0..count)
        .map(|_| system.spawn(Worker::default()).unwrap())
        .collect();
    for (tag, worker) in workers.iter().enumerate() {
        system.send(worker, WorkerMsg::Stop(tag as u64)).unwrap();
    }
    let deadline = Instant::now() + WAIT;
    let mut stopped = 0;
    for worker in &workers {
        loop {
            match system.send(worker, WorkerMsg::Work(0)) {
                Err(err) if err.reason() == &SendFailure::Stopped => break,
                _ if Instant::now() > deadline => panic!("{worker:?} did not stop"),
                _ => std::thread::yield_now(),
            }
        }
        stopped += 1;
    }
    stopped
}

#[test]
fn a_producer_outside_waits_for_room_and_gives_up_at_its_timeout() {
    let system = ThreadSystem::with_config(ThreadConfig::default().threads(2)).unwrap();
    let sleeper = system
        .spawn_with(Sleeper, SpawnOptions::new().capacity(1).dedicated())
        .unwrap();
    system.send(&sleeper, 500).unwrap(); // the handler sleeps 500 ms
    // Fills the one slot as soon as the handler has taken the first message.
    system.send_timeout(&sleeper, 0, WAIT).unwrap();
    let start = Instant::now();
    let err = system
        .send_timeout(&sleeper, 7, Duration::from_millis(50))
        .unwrap_err();
    assert_eq!(err.reason(), &SendFailure::Full { capacity: 1 });
    assert_eq!(err.into_message(), 7);
    assert!(start.elapsed() >= Duration::from_millis(50));
    // With a longer timeout the slot frees up and the send goes through.
    system.send_timeout(&sleeper, 0, WAIT).unwrap();
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert_eq!(report.actor(sleeper.id()).unwrap().ledger.handled, 3);
}

#[test]
fn a_handler_never_blocks_on_a_full_mailbox() {
    #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
    struct Flooder;
    impl Actor for Flooder {
        type Msg = actor_core::Addr<u64>;
        fn handle<C: Context<Self>>(
            &mut self,
            ctx: &mut C,
            to: Self::Msg,
        ) -> Result<(), ActorError> {
            let mut full = 0;
            for _ in 0..100 {
                if let Err(err) = ctx.send(&to, 1) {
                    assert!(matches!(err.reason(), SendFailure::Full { .. }));
                    full += 1;
                }
            }
            assert!(
                full > 0,
                "a capacity-1 mailbox behind a sleeping handler filled up"
            );
            Ok(())
        }
    }
    let system = ThreadSystem::new().unwrap();
    let sleeper = system
        .spawn_with(Sleeper, SpawnOptions::new().capacity(1).dedicated())
        .unwrap();
    system.send(&sleeper, 200).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let flooder = system.spawn(Flooder).unwrap();
    let start = Instant::now();
    system.send(&flooder, sleeper).unwrap();
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(
        report.actor(flooder.id()).unwrap().ledger.handled,
        1,
        "{report:#?}"
    );
    assert!(report.is_balanced());
}

#[test]
fn the_same_actor_code_runs_on_a_dedicated_thread() {
    let system = ThreadSystem::new().unwrap();
    let recorder = system.spawn(Recorder::default()).unwrap();
    let worker = system
        .spawn_with(Worker::new(recorder), SpawnOptions::new().dedicated())
        .unwrap();
    for tag in 0..100 {
        system.send(&worker, WorkerMsg::Work(tag)).unwrap();
    }
    assert_eq!(
        system.ask(&worker, |r| WorkerMsg::Count(100, r), WAIT),
        Ok(101)
    );
    let panicked = system.ask(&worker, WorkerMsg::PanicOnAsk, WAIT);
    assert!(panicked.is_err());
    assert_eq!(
        system.ask(&worker, |r| WorkerMsg::Echo(5, r), WAIT),
        Ok(5),
        "restarted on its thread"
    );
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced());
    assert_eq!(report.actor(worker.id()).unwrap().restarts, 1);
}

#[test]
fn a_panic_in_on_reply_is_the_asking_actors_failure() {
    #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
    struct Asker;
    #[derive(serde::Serialize, serde::Deserialize)]
    enum AskerMsg {
        Go(actor_core::Addr<WorkerMsg>),
        Never(u64),
    }
    impl Actor for Asker {
        type Msg = AskerMsg;
        fn handle<C: Context<Self>>(
            &mut self,
            ctx: &mut C,
            msg: AskerMsg,
        ) -> Result<(), ActorError> {
            if let AskerMsg::Go(to) = msg {
                // No timeout at all, and a closure that panics on the failure it gets.
                let panics =
                    |r: Result<u64, actor_core::AskError>| AskerMsg::Never(r.expect("a reply"));
                ctx.ask(&to, WorkerMsg::PanicOnAsk, Duration::MAX, panics)
                    .map_err(|e| ActorError::new(e.to_string()))?;
            }
            Ok(())
        }
    }
    let system = ThreadSystem::new().unwrap();
    let worker = system.spawn(Worker::default()).unwrap();
    let asker = system.spawn(Asker).unwrap();
    system.send(&asker, AskerMsg::Go(worker)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let asker_failures: Vec<_> = report
        .failures
        .iter()
        .filter(|f| f.actor == asker.id())
        .collect();
    assert_eq!(asker_failures.len(), 1, "{report:#?}");
    assert!(
        matches!(&asker_failures[0].failure, actor_core::Failure::Panic(m) if m.contains("a reply"))
    );
    assert!(report.is_balanced());
}

/// Set by [`TimerInHand`] once its handler has begun (this backend runs in this process).
static IN_HAND: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets a timer for itself, then stays in its handler a while.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct TimerInHand;

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
enum TimerMsg {
    Start,
    Tick,
}

impl Actor for TimerInHand {
    type Msg = TimerMsg;
    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: TimerMsg) -> Result<(), ActorError> {
        if msg == TimerMsg::Start {
            let me = ctx.myself();
            ctx.send_after(&me, TimerMsg::Tick, Duration::from_millis(20))
                .map_err(|e| ActorError::new(e.to_string()))?;
            IN_HAND.store(true, SeqCst);
            std::thread::sleep(Duration::from_millis(300));
        }
        Ok(())
    }
}

#[test]
fn a_timer_firing_during_shutdown_is_a_dead_letter_not_a_new_message() {
    let system = ThreadSystem::new().unwrap();
    let actor = system.spawn(TimerInHand).unwrap();
    system.send(&actor, TimerMsg::Start).unwrap();
    let deadline = Instant::now() + WAIT;
    while !IN_HAND.load(SeqCst) {
        assert!(Instant::now() < deadline, "the handler never began");
        std::thread::sleep(Duration::from_millis(1));
    }
    // The tick fires while the handler still runs, after the shutdown began.
    let report = system.shutdown(ShutdownMode::DeadLetter, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    let ledger = report.actor(actor.id()).unwrap().ledger;
    assert_eq!((ledger.handled, ledger.dead_letters), (1, 1), "{report:#?}");
    let tick = report.dead_letters.iter().any(|letter| {
        letter
            .message
            .as_ref()
            .and_then(|m| m.downcast_ref::<TimerMsg>())
            == Some(&TimerMsg::Tick)
    });
    assert!(tick, "the tick is among the dead letters: {report:#?}");
}
