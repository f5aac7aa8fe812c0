//! Clean stop: a shutdown returns within its timeout, having stopped every actor gracefully
//! where it could and killed the rest, with an account of each; a dropped system does the
//! same. No process outlives either.

use std::time::{Duration, Instant};

use actor_core::{
    Actor, ActorError, ActorRef, Backend, Context, DeadLetterReason, ExitReason, Failure,
    ShutdownMode,
};
use backend_process::ProcessSystem;

backend_process::process_test_support!();

const WAIT: Duration = Duration::from_secs(10);

mod common;
use common::{Fragile, FragileMsg, gone_within, kill9, pid_of, wait_for_marker};

/// Writes a file when it stops.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct MarksItsStop(std::path::PathBuf);

impl Actor for MarksItsStop {
    type Msg = ();

    fn handle<C: Context<Self>>(&mut self, _: &mut C, (): ()) -> Result<(), ActorError> {
        Ok(())
    }

    fn stopped(&mut self) {
        let _ = std::fs::write(&self.0, b"stopped");
    }
}

/// A drain that never ends (one actor is busy for a minute) still leaves the others time to
/// stop: an idle actor runs `stopped` before the busy one is killed.
#[test]
fn a_drain_that_runs_out_leaves_the_idle_actors_time_to_stop() {
    let system = ProcessSystem::new().unwrap();
    let marker = std::env::temp_dir().join(format!("actor-process-stopped-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let idle = system.spawn(MarksItsStop(marker.clone())).unwrap();
    system.send(&idle, ()).unwrap();
    let busy = system.spawn(Fragile::default()).unwrap();
    let pid = pid_of(&system, &busy);
    system.send(&busy, FragileMsg::Sleep(60_000)).unwrap();
    let report = system.shutdown(ShutdownMode::Drain, Duration::from_secs(1));
    assert_eq!(report.unresponsive, vec![busy.id()], "{report:#?}");
    assert_eq!(report.actor(idle.id()).unwrap().exit, ExitReason::Shutdown);
    assert!(marker.exists(), "the idle actor ran `stopped`");
    std::fs::remove_file(&marker).unwrap();
    assert!(report.is_balanced(), "{report:#?}");
    assert!(gone_within(pid, WAIT));
}

#[test]
fn no_child_outlives_shutdown_or_drop() {
    let system = ProcessSystem::new().unwrap();
    let actors: Vec<_> = (0..3)
        .map(|_| system.spawn(Fragile::default()).unwrap())
        .collect();
    let pids: Vec<u32> = actors.iter().map(|a| pid_of(&system, a)).collect();
    system.send(&actors[0], FragileMsg::Sleep(60_000)).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    let report = system.shutdown(ShutdownMode::DeadLetter, Duration::from_millis(300));
    // Within its timeout, give or take a busy machine's delays (the kill leaves 30 ms for the
    // deaths to be seen, and they are seen in well under one).
    let took = start.elapsed();
    assert!(took < Duration::from_millis(300 + 1_000), "{took:?}");
    assert!(report.is_balanced(), "{report:#?}");
    assert_eq!(
        report.unresponsive,
        vec![actors[0].id()],
        "the sleeping one was killed"
    );
    let ledger = report.actor(actors[0].id()).unwrap().ledger;
    assert_eq!(
        (ledger.accepted, ledger.handled, ledger.dead_letters),
        (2, 1, 1),
        "its pid answered, its sleep in hand a dead letter"
    );
    for pid in pids {
        assert!(
            gone_within(pid, Duration::from_secs(1)),
            "process {pid} outlived shutdown"
        );
    }

    let system = ProcessSystem::new().unwrap();
    let actor = system.spawn(Fragile::default()).unwrap();
    let pid = pid_of(&system, &actor);
    drop(system);
    assert!(
        gone_within(pid, Duration::from_secs(1)),
        "process {pid} outlived drop"
    );
}

/// A `kill -9` just before a draining shutdown is a failure like any other (rule 7: a failure
/// while `Drain` drains is supervised as at any other time): the message in hand is the one
/// dead letter, the actor is restarted, the thousands queued behind it are handled, and
/// nothing escalates.
#[test]
fn a_kill_9_just_before_a_drain_restarts_the_actor_and_drains_its_queue() {
    const QUEUED: u64 = 3_000;
    let system = ProcessSystem::new().unwrap();
    let actor = system.spawn(Fragile::default()).unwrap();
    let pid = pid_of(&system, &actor);
    let marker = std::env::temp_dir().join(format!(
        "actor-process-kill-before-drain-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&marker);
    system
        .send(&actor, FragileMsg::MarkThenSleep(marker.clone(), 60_000))
        .unwrap();
    for _ in 0..QUEUED {
        system.send(&actor, FragileMsg::Work).unwrap();
    }
    wait_for_marker(&marker, WAIT);
    assert!(kill9(pid));
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let record = report.actor(actor.id()).unwrap();
    // The pid's ask, the sleep in hand, the queue.
    assert_eq!(
        (
            record.ledger.accepted,
            record.ledger.handled,
            record.ledger.dead_letters,
            record.restarts
        ),
        (QUEUED + 2, QUEUED + 1, 1, 1),
        "(accepted, handled, dead letters, restarts); {report}"
    );
    let failures: Vec<_> = report
        .failures
        .iter()
        .map(|f| (f.actor, &f.failure, f.restarted))
        .collect();
    assert_eq!(failures, [(actor.id(), &Failure::Signal(9), true)]);
    assert!(report.escalations.is_empty(), "{:?}", report.escalations);
    let dead: Vec<_> = report.dead_letters.iter().map(|d| d.reason).collect();
    assert_eq!(dead, [DeadLetterReason::FailedWhileHandling]);
    assert_eq!(record.exit, ExitReason::Shutdown);
    assert!(report.is_balanced(), "{report:#?}");
    assert!(gone_within(pid, WAIT));
}
