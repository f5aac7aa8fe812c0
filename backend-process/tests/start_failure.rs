//! When no process can be started (file descriptors or memory run out, say), an actor waiting
//! for one is failed with the reason, soon, and the system recovers once starts succeed again.
//! One test in this file: it makes every process start fail, for the whole test binary.

use std::time::{Duration, Instant};

use actor_core::{ActorRef, AskError, Backend, ExitReason, Failure, ShutdownMode, SpawnError};
use backend_process::{ProcessSystem, fault_injection};

backend_process::process_test_support!();

const WAIT: Duration = Duration::from_secs(20);

mod common;
use common::Pid;

#[test]
fn an_actor_waiting_for_a_process_that_cannot_start_fails_with_the_reason() {
    let system = ProcessSystem::new().expect("a system");
    let victim = system.spawn(Pid).expect("spawn");
    let pid = system
        .ask(&victim, |r| r, WAIT)
        .expect("the victim answers");
    // Let the spare the launcher is making be ready: the failures start after it.
    std::thread::sleep(Duration::from_millis(200));
    fault_injection::fail_process_starts(true);

    // A spawn takes the ready spare; the next finds none, and fails within a few seconds,
    // saying why.
    let first = system.spawn(Pid).expect("the spare is ready");
    let started = Instant::now();
    let refused = system.spawn(Pid).expect_err("no process can start");
    assert!(
        matches!(&refused, SpawnError::Backend(why) if why.contains("fault injection")),
        "{refused:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // A restart that finds no process fails the actor for good, with the reason.
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).expect("a pid")).expect("a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("kill -9");
    // It is gone once an ask is refused at once (rather than waiting with it, or answered).
    let deadline = Instant::now() + WAIT;
    while !matches!(
        system.ask(&victim, |r| r, Duration::from_millis(100)),
        Err(AskError::Rejected(_))
    ) {
        assert!(Instant::now() < deadline, "the victim was never given up");
    }

    // Starts work again: so do spawns.
    fault_injection::fail_process_starts(false);
    let later = system.spawn(Pid).expect("a spawn once starts work again");
    assert!(system.ask(&later, |r| r, WAIT).is_ok());
    assert!(system.ask(&first, |r| r, WAIT).is_ok());

    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report}");
    let exit = &report.actor(victim.id()).expect("a report").exit;
    assert!(
        matches!(exit, ExitReason::Failed(Failure::Transport(why)) if why.contains("fault injection")),
        "{exit:?}"
    );
    assert!(
        report.escalations.iter().any(|f| f.actor == victim.id()),
        "{:?}",
        report.escalations
    );
}
