//! Faults only processes can survive: an abort, an exit, a panic in `started`, `kill -9` of a
//! child with messages queued, a send to an actor whose process is gone, a restart storm,
//! random kills during a stream. Each leaves the ledger balanced, the other actors' processes
//! untouched, and no child process behind, alive or unreaped.

use std::time::{Duration, Instant};

use actor_core::{
    Actor, ActorError, ActorRef, AskError, Backend, Context, DeadLetterReason, ExitReason, Failure,
    Phase, ReplyTo, RestartLimit, SendFailure, ShutdownMode, SpawnOptions, Supervision,
};
use backend_process::ProcessSystem;

backend_process::process_test_support!();

const WAIT: Duration = Duration::from_secs(10);

mod common;
use common::{Fragile, FragileMsg, gone_within, kill9, pid_of, wait_for_marker};

#[test]
fn an_abort_is_seen_with_its_signal_and_the_actor_restarts() {
    let system = ProcessSystem::new().unwrap();
    let actor = system.spawn(Fragile::default()).unwrap();
    let bystander = system.spawn(Fragile::default()).unwrap();
    let first = pid_of(&system, &actor);
    let bystanders = pid_of(&system, &bystander);
    system.send(&actor, FragileMsg::Abort).unwrap();
    for _ in 0..3 {
        system.send(&actor, FragileMsg::Work).unwrap();
    }
    // The restarted process has handled the three queued messages and this one.
    assert_eq!(system.ask(&actor, FragileMsg::Count, WAIT), Ok(4));
    assert_ne!(pid_of(&system, &actor), first, "a new process");
    assert_eq!(
        pid_of(&system, &bystander),
        bystanders,
        "the other one untouched"
    );
    assert_eq!(system.ask(&bystander, FragileMsg::Count, WAIT), Ok(3));
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let failure = &report.failures[0];
    assert_eq!(
        (failure.phase, &failure.failure, failure.restarted),
        (Phase::Process, &Failure::Signal(6), true)
    );
    let ledger = report.actor(actor.id()).unwrap().ledger;
    assert_eq!((ledger.dead_letters, ledger.handled), (1, 6));
    assert_eq!(report.failures.len(), 1, "{:#?}", report.failures);
    assert!(report.is_balanced());
    assert!(gone_within(first, WAIT), "the aborted process was reaped");
}

#[test]
fn an_exit_is_seen_with_its_code() {
    let system = ProcessSystem::new().unwrap();
    let options = SpawnOptions::new().supervision(Supervision::Stop);
    let actor = system.spawn_with(Fragile::default(), options).unwrap();
    system.send(&actor, FragileMsg::Exit(3)).unwrap();
    let deadline = Instant::now() + WAIT;
    while system.send(&actor, FragileMsg::Work).is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert_eq!(
        report.actor(actor.id()).unwrap().exit,
        ExitReason::Failed(Failure::Exit(3))
    );
    assert_eq!(report.escalations.len(), 1);
    assert!(report.is_balanced(), "{report:#?}");
}

#[test]
fn kill_9_with_messages_queued_loses_only_the_one_in_hand() {
    let system = ProcessSystem::new().unwrap();
    let actor = system.spawn(Fragile::default()).unwrap();
    let bystander = system.spawn(Fragile::default()).unwrap();
    let bystanders = pid_of(&system, &bystander);
    let pid = pid_of(&system, &actor);
    let marker = std::env::temp_dir().join(format!("actor-process-in-hand-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    system
        .send(&actor, FragileMsg::MarkThenSleep(marker.clone(), 60_000))
        .unwrap();
    for _ in 0..20 {
        system.send(&actor, FragileMsg::Work).unwrap();
    }
    wait_for_marker(&marker, WAIT);
    assert!(kill9(pid));
    assert_eq!(
        system.ask(&actor, FragileMsg::Count, WAIT),
        Ok(21),
        "the 20 queued and the count"
    );
    assert_eq!(
        pid_of(&system, &bystander),
        bystanders,
        "the other one untouched"
    );
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert_eq!(report.failures.len(), 1, "{:#?}", report.failures);
    assert_eq!(report.failures[0].failure, Failure::Signal(9));
    let ledger = report.actor(actor.id()).unwrap().ledger;
    assert_eq!(
        (ledger.accepted, ledger.handled, ledger.dead_letters),
        (23, 22, 1)
    );
    assert!(gone_within(pid, WAIT));
}

#[test]
fn a_restart_storm_reaches_its_limit_and_escalates() {
    let system = ProcessSystem::new().unwrap();
    let limit = Supervision::Restart(RestartLimit::new(3, Duration::from_secs(60)));
    let actor = system
        .spawn_with(Fragile::default(), SpawnOptions::new().supervision(limit))
        .unwrap();
    let mut accepted = 0;
    for _ in 0..10 {
        if system.send(&actor, FragileMsg::Abort).is_ok() {
            accepted += 1;
        }
    }
    let deadline = Instant::now() + WAIT;
    while system
        .send(&actor, FragileMsg::Work)
        .map(|()| accepted += 1)
        .is_ok()
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let record = report.actor(actor.id()).unwrap();
    assert_eq!(record.restarts, 3);
    assert_eq!(record.exit, ExitReason::Failed(Failure::Signal(6)));
    assert_eq!(record.ledger.accepted, accepted);
    assert!(report.is_balanced(), "{report:#?}");
    assert_eq!(report.escalations.len(), 1);
}

#[test]
fn random_kills_during_a_stream_keep_the_ledger_balanced() {
    const KILLS: usize = 200;
    let system = ProcessSystem::new().unwrap();
    let limit = Supervision::Restart(RestartLimit::new(u32::MAX, Duration::from_secs(1)));
    let actors: Vec<_> = (0..2)
        .map(|_| {
            system
                .spawn_with(Fragile::default(), SpawnOptions::new().supervision(limit))
                .unwrap()
        })
        .collect();
    let mut pids = Vec::new();
    let mut last_killed = [None; 2];
    let mut accepted = 0u64;
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..KILLS {
        for _ in 0..20 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let actor = &actors[(seed % 2) as usize];
            if system.send(actor, FragileMsg::Work).is_ok() {
                accepted += 1;
            }
        }
        // Each kill ends a live process: the victim's next one, once it has one (the stream
        // is faster than a restart, so the process on record may be one already killed).
        let victim = (seed >> 32) as usize % 2;
        let deadline = Instant::now() + WAIT;
        let pid = loop {
            match system.pid_of(actors[victim].id()) {
                Some(pid) if Some(pid) != last_killed[victim] => break Some(pid),
                _ if Instant::now() > deadline => break None,
                _ => std::thread::sleep(Duration::from_micros(100)),
            }
        };
        if let Some(pid) = pid
            && kill9(pid)
        {
            last_killed[victim] = Some(pid);
            pids.push(pid);
        }
    }
    // A message sent just as a kill lands may be taken for the one in hand (the host cannot
    // know whether the dying process had started it): ask until an answer comes.
    for actor in &actors {
        loop {
            let counted = system.ask(actor, FragileMsg::Count, WAIT);
            if !matches!(counted, Err(actor_core::AskError::Rejected(_))) {
                accepted += 1;
            }
            match counted {
                Ok(_) => break,
                Err(actor_core::AskError::ReceiverFailed(Failure::Signal(9))) => continue,
                Err(other) => panic!("{other}"),
            }
        }
    }
    pids.extend(actors.iter().filter_map(|a| system.pid_of(a.id())));
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    let total = report.total();
    assert_eq!(total.accepted, accepted);
    assert_eq!(pids.len(), KILLS + 2, "every kill found a live process");
    let killed = report
        .failures
        .iter()
        .filter(|f| f.failure == Failure::Signal(9))
        .count();
    assert_eq!(killed, KILLS, "every kill seen, with its signal");
    // The killed processes and the last two, alive or unreaped: none is left.
    for pid in pids {
        assert!(gone_within(pid, WAIT), "process {pid} is still there");
    }
}

/// Panics in `started`, every instance: each failure is seen with its phase and message, the
/// restarts stop at the limit, and the message waiting for it is a dead letter.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct PanicsInStarted;

impl Actor for PanicsInStarted {
    type Msg = FragileMsg;

    fn started<C: Context<Self>>(&mut self, _: &mut C) -> Result<(), ActorError> {
        panic!("no start today");
    }

    fn handle<C: Context<Self>>(&mut self, _: &mut C, _: FragileMsg) -> Result<(), ActorError> {
        Ok(())
    }
}

#[test]
fn a_panic_in_started_is_seen_with_its_message_and_restarted_up_to_the_limit() {
    let system = ProcessSystem::new().unwrap();
    let bystander = system.spawn(Fragile::default()).unwrap();
    let bystanders = pid_of(&system, &bystander);
    let limit = Supervision::Restart(RestartLimit::new(2, Duration::from_secs(60)));
    let actor = system
        .spawn_with(PanicsInStarted, SpawnOptions::new().supervision(limit))
        .unwrap();
    system.send(&actor, FragileMsg::Work).unwrap();
    // Given up after the third failure: then a send is refused.
    let deadline = Instant::now() + WAIT;
    while system.send(&actor, FragileMsg::Work).is_ok() {
        assert!(Instant::now() < deadline, "never given up");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        pid_of(&system, &bystander),
        bystanders,
        "the other one untouched"
    );
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    let failures: Vec<_> = report.failures.iter().map(|f| (f.actor, f.phase)).collect();
    assert_eq!(failures, vec![(actor.id(), Phase::Started); 3]);
    assert!(
        report
            .failures
            .iter()
            .all(|f| matches!(&f.failure, Failure::Panic(why) if why.contains("no start today")))
    );
    let record = report.actor(actor.id()).unwrap();
    assert_eq!(record.restarts, 2);
    assert!(matches!(
        &record.exit,
        ExitReason::Failed(Failure::Panic(_))
    ));
    assert_eq!(record.ledger.handled, 0);
    assert_eq!(record.ledger.dead_letters, record.ledger.accepted);
    assert_eq!(report.escalations.len(), 1);
}

/// A send to an actor whose process is gone: while its supervisor restarts it, the send is
/// accepted and the next process handles it; once the supervisor has given up, the send is
/// refused, saying so, and the message comes back.
#[test]
fn a_send_to_an_actor_whose_process_is_gone() {
    let system = ProcessSystem::new().unwrap();
    let restarted = system.spawn(Fragile::default()).unwrap();
    let pid = pid_of(&system, &restarted);
    assert!(kill9(pid));
    assert!(gone_within(pid, WAIT), "reaped");
    system.send(&restarted, FragileMsg::Work).unwrap();
    assert_eq!(
        system.ask(&restarted, FragileMsg::Count, WAIT),
        Ok(2),
        "handled by the next process"
    );

    let options = SpawnOptions::new().supervision(Supervision::Stop);
    let stopped = system.spawn_with(Fragile::default(), options).unwrap();
    let pid = pid_of(&system, &stopped);
    assert!(kill9(pid));
    let deadline = Instant::now() + WAIT;
    let refused = loop {
        match system.send(&stopped, FragileMsg::Sleep(7)) {
            Err(refused) => break refused,
            Ok(()) => assert!(Instant::now() < deadline, "never refused"),
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(
        matches!(refused.reason(), SendFailure::Stopped),
        "{refused}"
    );
    assert!(matches!(refused.into_message(), FragileMsg::Sleep(7)));
    assert_eq!(
        system.ask(&stopped, FragileMsg::Count, WAIT),
        Err(AskError::Rejected(SendFailure::Stopped))
    );
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    assert_eq!(
        report.actor(stopped.id()).unwrap().exit,
        ExitReason::Failed(Failure::Signal(9))
    );
    // What was accepted between the kill and the host seeing it: dead letters.
    assert!(
        report
            .dead_letters
            .iter()
            .filter(|d| d.to == stopped.id())
            .all(|d| d.reason == DeadLetterReason::ReceiverGone),
        "{report:#?}"
    );
}

/// Bounces a big payload back and forth: `n` more times.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Bouncer;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum BounceMsg {
    Ball {
        back: actor_core::Addr<BounceMsg>,
        left: u32,
        payload: Vec<u8>,
        done: ReplyTo<u32>,
    },
    /// An ask that never times out, to an actor that answers.
    AskForever {
        to: actor_core::Addr<BounceMsg>,
        done: ReplyTo<bool>,
    },
    Answer(ReplyTo<()>),
    Answered(Result<(), actor_core::AskError>, ReplyTo<bool>),
}

impl Actor for Bouncer {
    type Msg = BounceMsg;
    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: BounceMsg) -> Result<(), ActorError> {
        match msg {
            BounceMsg::Ball { left: 0, done, .. } => ctx.reply(done, 0),
            BounceMsg::Ball { left: u32::MAX, .. } => {}
            BounceMsg::Ball {
                back,
                left,
                payload,
                done,
            } => {
                let me = ctx.myself();
                // Several big messages in one handler, both ways at once: the host must keep
                // reading while it writes. Only the first carries the rally on.
                for extra in 0..3 {
                    let left = if extra == 0 { left - 1 } else { u32::MAX };
                    let ball = BounceMsg::Ball {
                        back: me,
                        left,
                        payload: payload.clone(),
                        done: done.clone(),
                    };
                    ctx.send(&back, ball)
                        .map_err(|e| ActorError::new(e.to_string()))?;
                }
            }
            BounceMsg::AskForever { to, done } => {
                ctx.ask(&to, BounceMsg::Answer, Duration::MAX, move |r| {
                    BounceMsg::Answered(r, done)
                })
                .map_err(|e| ActorError::new(e.to_string()))?;
            }
            BounceMsg::Answer(reply_to) => ctx.reply(reply_to, ()),
            BounceMsg::Answered(result, done) => ctx.reply(done, result.is_ok()),
        }
        Ok(())
    }
}

#[test]
fn big_messages_both_ways_do_not_deadlock_the_host() {
    let system = ProcessSystem::new().unwrap();
    let a = system.spawn(Bouncer).unwrap();
    let b = system.spawn(Bouncer).unwrap();
    let ball = |done| BounceMsg::Ball {
        back: b,
        left: 10,
        payload: vec![9u8; 1 << 20],
        done,
    };
    assert_eq!(system.ask(&a, ball, Duration::from_secs(60)), Ok(0));
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}

#[test]
fn an_ask_without_a_timeout_does_not_break_the_host() {
    let system = ProcessSystem::new().unwrap();
    let a = system.spawn(Bouncer).unwrap();
    let b = system.spawn(Bouncer).unwrap();
    assert_eq!(
        system.ask(&a, |done| BounceMsg::AskForever { to: b, done }, WAIT),
        Ok(true)
    );
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}

#[test]
fn after_a_kill_9_mid_stream_the_rest_is_handled_in_the_order_it_was_sent() {
    use actor_core::conformance::actors::{Event, Recorder, RecorderMsg, Worker, WorkerMsg};
    let system = ProcessSystem::new().unwrap();
    let recorder = system.spawn(Recorder::default()).unwrap();
    let worker = system.spawn(Worker::new(recorder)).unwrap();
    let stream = 50_000;
    for tag in 0..stream {
        system.send(&worker, WorkerMsg::Work(tag)).unwrap();
    }
    // Killed while it works through the stream: some handled, one in hand, the rest delivered
    // to it or still in the host, all to go to the restarted process in order. The stream is
    // long enough (a few microseconds a message, each recorded by another process) that the
    // kill lands well before its end, even on a loaded machine. (Waiting for a first message
    // handled would not help: the recorder answers only after what it has queued.)
    assert!(kill9(system.pid_of(worker.id()).expect("a process")));
    assert_eq!(
        system.ask(&worker, |r| WorkerMsg::Echo(stream, r), WAIT),
        Ok(stream)
    );
    let events: Vec<Event> = system.ask(&recorder, RecorderMsg::Events, WAIT).unwrap();
    let starts: Vec<usize> = (0..events.len())
        .filter(|&i| matches!(events[i], Event::Started { .. }))
        .collect();
    let tags: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Handled { tag, .. } => Some(*tag),
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 2, "started, then restarted once");
    assert!(
        tags.windows(2).all(|w| w[0] < w[1]),
        "every tag once, in the order sent"
    );
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let ledger = report.actor(worker.id()).unwrap().ledger;
    assert!(report.is_balanced());
    assert_eq!(ledger.accepted, stream + 1);
    assert!(
        ledger.dead_letters <= 1,
        "at most the one in hand: {ledger:?}"
    );
    // The one in hand may have recorded its tag before it died.
    let recorded = tags.len() as u64 - 1; // the echo's tag
    assert!(
        recorded == ledger.handled - 1 || recorded == ledger.handled,
        "{recorded} recorded, {ledger:?}"
    );
    assert!(
        events[starts[1]..]
            .iter()
            .any(|e| matches!(e, Event::Handled { tag, .. } if *tag < stream)),
        "the kill came mid-stream: messages sent before it were handled after the restart"
    );
}
