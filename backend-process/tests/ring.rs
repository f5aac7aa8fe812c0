//! Deliveries on their way through the ring (`ring.rs`): messages of every size keep their
//! order, whichever way each travels (in the ring, on the socket behind a marker in the ring,
//! or in shared memory of its own), and a stream bigger than the ring waits in the host and
//! arrives whole.

use std::time::Duration;

use actor_core::{Actor, ActorError, ActorRef, Backend, Context, ReplyTo, ShutdownMode};
use backend_process::ProcessSystem;

backend_process::process_test_support!();

const WAIT: Duration = Duration::from_secs(20);

/// Checks that numbered messages come in order and holds what their bytes were.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Checker {
    next: u64,
    out_of_order: u64,
    bytes: u64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum CheckerMsg {
    Numbered(u64, Vec<u8>),
    Pause(u64),
    /// How many came, how many were out of order, and their bytes.
    Status(ReplyTo<(u64, u64, u64)>),
}

impl Actor for Checker {
    type Msg = CheckerMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: CheckerMsg) -> Result<(), ActorError> {
        match msg {
            CheckerMsg::Numbered(n, bytes) => {
                if n != self.next || bytes.iter().any(|&b| b != n as u8) {
                    self.out_of_order += 1;
                }
                self.next = n + 1;
                self.bytes += bytes.len() as u64;
            }
            CheckerMsg::Pause(ms) => std::thread::sleep(Duration::from_millis(ms)),
            CheckerMsg::Status(reply_to) => {
                ctx.reply(reply_to, (self.next, self.out_of_order, self.bytes));
            }
        }
        Ok(())
    }
}

#[test]
fn messages_of_every_size_keep_their_order() {
    // Small ones in the ring; ones just under and over its biggest record (16 KiB); and ones
    // bigger than a socket write, which go in shared memory of their own.
    let sizes = [3, 16 * 1024 - 64, 16 * 1024 + 1, 40_000, 300_000, 0, 9];
    let system = ProcessSystem::new().unwrap();
    let checker = system.spawn(Checker::default()).unwrap();
    // Paused first, so that all of them queue up, then once more halfway.
    system.send(&checker, CheckerMsg::Pause(100)).unwrap();
    let mut expected_bytes = 0;
    for n in 0..700u64 {
        if n == 350 {
            system.send(&checker, CheckerMsg::Pause(50)).unwrap();
        }
        let size = sizes[n as usize % sizes.len()];
        expected_bytes += size as u64;
        system
            .send(&checker, CheckerMsg::Numbered(n, vec![n as u8; size]))
            .unwrap();
    }
    let status = system.ask(&checker, CheckerMsg::Status, WAIT).unwrap();
    assert_eq!(status, (700, 0, expected_bytes));
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    assert_eq!(report.actor(checker.id()).unwrap().ledger.handled, 703);
}

#[test]
fn a_stream_bigger_than_the_ring_arrives_whole_and_in_order() {
    // About 40 bytes a record: some 60 times what the ring holds, sent while the actor sleeps,
    // so most of it waits in the host until the actor makes room.
    const COUNT: u64 = 400_000;
    let system = ProcessSystem::new().unwrap();
    let checker = system.spawn(Checker::default()).unwrap();
    system.send(&checker, CheckerMsg::Pause(200)).unwrap();
    for n in 0..COUNT {
        system
            .send(&checker, CheckerMsg::Numbered(n, vec![n as u8; 16]))
            .unwrap();
    }
    let status = system.ask(&checker, CheckerMsg::Status, WAIT).unwrap();
    assert_eq!(status, (COUNT, 0, COUNT * 16));
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    let ledger = report.actor(checker.id()).unwrap().ledger;
    assert_eq!((ledger.handled, ledger.dead_letters), (COUNT + 2, 0));
}

#[test]
fn messages_behind_one_bigger_than_the_writer_takes_are_not_held_up() {
    // Each round: a message over what the host hands the writer at once (1 MiB), so the small
    // ones behind it wait in the host, then an ask behind them all, answered only once the
    // host has handed them over after the big one was written. The writer counts the bytes as
    // written before it writes them: counted after, a child quick enough to report before the
    // count left the ones behind waiting for a report that had already come. That window is
    // narrow (this passes with the count moved back, 2 runs of 2); the test guards the outcome.
    let system = ProcessSystem::new().unwrap();
    let checker = system.spawn(Checker::default()).unwrap();
    let mut n = 0;
    for _ in 0..20 {
        system
            .send(&checker, CheckerMsg::Numbered(n, vec![n as u8; 2 << 20]))
            .unwrap();
        n += 1;
        for _ in 0..10 {
            system
                .send(&checker, CheckerMsg::Numbered(n, vec![n as u8; 8]))
                .unwrap();
            n += 1;
        }
        let (next, out_of_order, _) = system.ask(&checker, CheckerMsg::Status, WAIT).unwrap();
        assert_eq!((next, out_of_order), (n, 0));
    }
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
}
