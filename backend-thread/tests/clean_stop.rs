//! No thread outlives its system: counted from `/proc/self/task`, before and after, on every
//! path. One test in this binary, so no other test's threads are counted.

use std::time::{Duration, Instant};

use actor_core::conformance::actors::{Worker, WorkerMsg};
use actor_core::{Actor, ActorError, ActorRef, Backend, Context, ShutdownMode, SpawnOptions};
use backend_thread::ThreadSystem;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Waits up to a second for the thread count to come back to `expected`.
fn settles_to(expected: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(1);
    while threads() != expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    threads()
}

#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Slow;

impl Actor for Slow {
    type Msg = u64;
    fn handle<C: Context<Self>>(&mut self, _: &mut C, millis: u64) -> Result<(), ActorError> {
        std::thread::sleep(Duration::from_millis(millis));
        Ok(())
    }
}

#[test]
fn no_thread_outlives_its_system() {
    let before = threads();

    // A normal shutdown, with pool actors, dedicated actors and a pending timer.
    let system = ThreadSystem::new().unwrap();
    let pooled = system.spawn(Worker::default()).unwrap();
    let dedicated = system
        .spawn_with(Worker::default(), SpawnOptions::new().dedicated())
        .unwrap();
    for tag in 0..1000 {
        system.send(&pooled, WorkerMsg::Work(tag)).unwrap();
        system.send(&dedicated, WorkerMsg::Work(tag)).unwrap();
    }
    system
        .send(
            &pooled,
            WorkerMsg::Schedule {
                tag: 1,
                delay: Duration::from_secs(3600),
            },
        )
        .unwrap();
    assert!(threads() > before, "the system started threads");
    let report = system.shutdown(ShutdownMode::Drain, Duration::from_secs(10));
    assert!(report.is_balanced());
    assert_eq!(settles_to(before), before, "after shutdown");

    // Dropped without a shutdown.
    let system = ThreadSystem::new().unwrap();
    let worker = system
        .spawn_with(Worker::default(), SpawnOptions::new().dedicated())
        .unwrap();
    system.send(&worker, WorkerMsg::Work(1)).unwrap();
    drop(system);
    assert_eq!(settles_to(before), before, "after drop");

    // A dedicated handler still running at shutdown: reported, not waited on past the timeout.
    let system = ThreadSystem::new().unwrap();
    let slow = system
        .spawn_with(Slow, SpawnOptions::new().dedicated())
        .unwrap();
    system.send(&slow, 400).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    let report = system.shutdown(ShutdownMode::DeadLetter, Duration::from_millis(100));
    assert!(
        start.elapsed() < Duration::from_millis(350),
        "shutdown waited {:?}",
        start.elapsed()
    );
    assert_eq!(report.unresponsive, vec![slow.id()]);
    // Once its handler returns, the detached thread sees the stop order and ends.
    assert_eq!(
        settles_to(before),
        before,
        "after the slow handler returned"
    );
}
