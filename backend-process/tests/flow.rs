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
    Sleep(u64),
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
            FloodMsg::Item => self.received += 1,
            FloodMsg::Sleep(millis) => std::thread::sleep(Duration::from_millis(millis)),
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
fn a_flood_into_an_actor_stuck_in_a_handler_waits_in_the_host() {
    const COUNT: u64 = 20_000;
    let system = ProcessSystem::new().unwrap();
    let stuck = system.spawn(Flooder::default()).unwrap();
    let bystander = system.spawn(Flooder::default()).unwrap();
    system.send(&stuck, FloodMsg::Sleep(500)).unwrap();
    // More than the child's socket holds: the rest must wait in the host, not block this thread
    // (which holds the host's lock while it sends) or the router.
    for _ in 0..COUNT {
        system.send(&stuck, FloodMsg::Item).unwrap();
    }
    assert_eq!(received(&system, &bystander, 0), 0, "the host still routes");
    assert_eq!(received(&system, &stuck, COUNT), COUNT);
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(
        report.is_balanced() && report.failures.is_empty(),
        "{report:#?}"
    );
}
