//! Floods that would fill a socket: the host writes to a child directly only while that cannot
//! block, so two actors flooding each other, and a sender flooding an actor stuck in a long
//! handler, never wedge the host.

use std::time::Duration;

use actor_core::{Actor, ActorError, Addr, Backend, Context, ReplyTo, ShutdownMode};
use backend_process::ProcessSystem;

backend_process::process_test_support!();

const WAIT: Duration = Duration::from_secs(30);

#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Flooder {
    received: u64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum FloodMsg {
    /// Sends `count` items to `to` from inside one handler.
    Flood {
        to: Addr<FloodMsg>,
        count: u64,
    },
    Item,
    /// Some bytes, counted as an item.
    Bulk(Vec<u8>),
    /// Blocks the handler until the file exists.
    WaitFor(std::path::PathBuf),
    Received(ReplyTo<u64>),
}

impl Actor for Flooder {
    type Msg = FloodMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: FloodMsg) -> Result<(), ActorError> {
        match msg {
            FloodMsg::Flood { to, count } => {
                for _ in 0..count {
                    ctx.send(&to, FloodMsg::Item)
                        .map_err(|e| ActorError::new(e.to_string()))?;
                }
            }
            FloodMsg::Item | FloodMsg::Bulk(_) => self.received += 1,
            FloodMsg::WaitFor(path) => {
                while !path.exists() {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            FloodMsg::Received(reply_to) => ctx.reply(reply_to, self.received),
        }
        Ok(())
    }
}

/// Asks until `actor` has received `want` items (the reply to an ask can overtake items still
/// on their way from another sender).
fn received(system: &ProcessSystem, actor: &Addr<FloodMsg>, want: u64) -> u64 {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let got = system.ask(actor, FloodMsg::Received, WAIT).unwrap();
        if got >= want || std::time::Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn two_actors_flooding_each_other_both_get_everything() {
    const COUNT: u64 = 50_000;
    let system = ProcessSystem::new().unwrap();
    let a = system.spawn(Flooder::default()).unwrap();
    let b = system.spawn(Flooder::default()).unwrap();
    system
        .send(
            &a,
            FloodMsg::Flood {
                to: b,
                count: COUNT,
            },
        )
        .unwrap();
    system
        .send(
            &b,
            FloodMsg::Flood {
                to: a,
                count: COUNT,
            },
        )
        .unwrap();
    assert_eq!(received(&system, &a, COUNT), COUNT);
    assert_eq!(received(&system, &b, COUNT), COUNT);
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(
        report.is_balanced() && report.failures.is_empty(),
        "{report:#?}"
    );
}

#[test]
fn sends_to_an_actor_stuck_in_a_handler_never_block_the_sender() {
    // A message of most of a socket's buffer, then a few that could each go by a direct write,
    // then many small ones, while the receiver reads
    // nothing: the host must keep them, not block in a write (the sending thread holds the
    // host's lock while it sends, so a blocked write would stop every other actor too).
    const SMALL: u64 = 20_000;
    let system = ProcessSystem::new().unwrap();
    let stuck = system.spawn(Flooder::default()).unwrap();
    let bystander = system.spawn(Flooder::default()).unwrap();
    let release = std::env::temp_dir().join(format!("flow-test-{}", std::process::id()));
    let _ = std::fs::remove_file(&release);
    system
        .send(&stuck, FloodMsg::WaitFor(release.clone()))
        .unwrap();
    let (done, sent) = crossbeam_channel::bounded(1);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            system
                .send(&stuck, FloodMsg::Bulk(vec![1; 180 * 1024]))
                .unwrap();
            for _ in 0..3 {
                system
                    .send(&stuck, FloodMsg::Bulk(vec![1; 15 * 1024]))
                    .unwrap();
            }
            for _ in 0..SMALL {
                system.send(&stuck, FloodMsg::Item).unwrap();
            }
            let _ = done.send(());
        });
        let finished = sent.recv_timeout(WAIT).is_ok();
        // Let the receiver go whatever happened, so a failure does not hang the test.
        std::fs::write(&release, b"").unwrap();
        assert!(finished, "a send blocked on a child that reads nothing");
    });
    assert_eq!(received(&system, &bystander, 0), 0, "the host still routes");
    assert_eq!(received(&system, &stuck, SMALL + 4), SMALL + 4);
    let _ = std::fs::remove_file(&release);
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(
        report.is_balanced() && report.failures.is_empty(),
        "{report:#?}"
    );
}
