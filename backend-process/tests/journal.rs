//! What a child's journal saves when its process dies without warning: the sends its handler
//! made before the `kill -9` (they returned `Ok`, so they must arrive), and the knowledge that no
//! message was in hand when it died in a hook rather than in a handler.

use std::time::{Duration, Instant};

use actor_core::{
    Actor, ActorError, ActorRef, Addr, Backend, Context, ReplyTo, ShutdownMode, Signal,
};
use backend_process::ProcessSystem;

backend_process::process_test_support!();

const WAIT: Duration = Duration::from_secs(10);

mod common;

/// Counts what it is sent.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Tally {
    sum: u64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum TallyMsg {
    Add(u64),
    Sum(ReplyTo<u64>),
    Stop,
}

impl Actor for Tally {
    type Msg = TallyMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: TallyMsg) -> Result<(), ActorError> {
        match msg {
            TallyMsg::Add(n) => self.sum += n,
            TallyMsg::Sum(reply_to) => ctx.reply(reply_to, self.sum),
            TallyMsg::Stop => ctx.stop(),
        }
        Ok(())
    }
}

/// Sends, then hangs (to be killed), or dies in its `signal` hook.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Sender;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum SenderMsg {
    /// Sends `Add(1)` `count` times to `to`, says so, then sleeps until killed.
    /// ... and creates the file `done` once past its last send.
    SendAndHang {
        to: Addr<TallyMsg>,
        count: u64,
        sent: Addr<TallyMsg>,
        done: std::path::PathBuf,
    },
    /// Sends `Add(1)` `count` times to `to`, then has the process abort just after the batch
    /// carrying them has gone to the host.
    SendThenAbortAfterBatch {
        to: Addr<TallyMsg>,
        count: u64,
    },
    Watch(Addr<TallyMsg>),
    Sleep(u64),
    Work,
    Pid(ReplyTo<u32>),
}

impl Actor for Sender {
    type Msg = SenderMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: SenderMsg) -> Result<(), ActorError> {
        match msg {
            SenderMsg::SendAndHang {
                to,
                count,
                sent,
                done,
            } => {
                for _ in 0..count {
                    ctx.send(&to, TallyMsg::Add(1))
                        .map_err(|e| ActorError::new(e.to_string()))?;
                }
                // Written to the journal like the others: it too must survive the kill.
                ctx.send(&sent, TallyMsg::Add(1))
                    .map_err(|e| ActorError::new(e.to_string()))?;
                // Told outside the actor system, which holds the sends until the handler ends.
                std::fs::write(&done, b"").map_err(|e| ActorError::new(e.to_string()))?;
                std::thread::sleep(Duration::from_secs(60));
            }
            SenderMsg::SendThenAbortAfterBatch { to, count } => {
                for _ in 0..count {
                    ctx.send(&to, TallyMsg::Add(1))
                        .map_err(|e| ActorError::new(e.to_string()))?;
                }
                backend_process::fault_injection::abort_after_next_batch();
            }
            SenderMsg::Watch(target) => ctx.watch(&target),
            SenderMsg::Sleep(millis) => std::thread::sleep(Duration::from_millis(millis)),
            SenderMsg::Work => {}
            SenderMsg::Pid(reply_to) => ctx.reply(reply_to, std::process::id()),
        }
        Ok(())
    }

    fn signal<C: Context<Self>>(&mut self, _: &mut C, signal: Signal) -> Result<(), ActorError> {
        if matches!(signal, Signal::Terminated { .. }) {
            std::process::abort();
        }
        Ok(())
    }
}

fn sum(system: &ProcessSystem, tally: &Addr<TallyMsg>) -> u64 {
    system
        .ask(tally, TallyMsg::Sum, WAIT)
        .expect("the tally answers")
}

fn wait_for_sum(system: &ProcessSystem, tally: &Addr<TallyMsg>, want: u64) -> u64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = sum(system, tally);
        if got >= want || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn sends_of_a_handler_killed_mid_way_are_delivered() {
    // More than one journal's worth: some leave while the handler runs (the outbox fills up),
    // the rest are still in the journal when the process is killed.
    const COUNT: u64 = 3_000;
    let system = ProcessSystem::new().unwrap();
    let tally = system.spawn(Tally::default()).unwrap();
    let sent = system.spawn(Tally::default()).unwrap();
    let sender = system.spawn(Sender).unwrap();
    let pid = system.ask(&sender, SenderMsg::Pid, WAIT).unwrap();
    let done = std::env::temp_dir().join(format!("journal-test-{}-{pid}", std::process::id()));
    system
        .send(
            &sender,
            SenderMsg::SendAndHang {
                to: tally,
                count: COUNT,
                sent,
                done: done.clone(),
            },
        )
        .unwrap();
    // Once the handler is past its last send, every send is in its journal or gone to the
    // host, and the marker cannot have left (the handler has not returned).
    let deadline = Instant::now() + WAIT;
    while !done.exists() {
        assert!(
            Instant::now() < deadline,
            "the handler never got past its sends"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = std::fs::remove_file(&done);
    assert_eq!(sum(&system, &sent), 0, "the marker waits in the journal");
    assert!(common::kill9(pid), "process {pid} was there to kill");
    assert_eq!(wait_for_sum(&system, &sent, 1), 1, "the marker arrived");
    assert_eq!(sum(&system, &tally), COUNT, "every send arrived, once");
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    let ledger = report.actor(sender.id()).unwrap().ledger;
    assert_eq!(
        (ledger.handled, ledger.dead_letters),
        (1, 1),
        "the pid ask handled, the hanging message in hand"
    );
    assert_eq!(report.actor(tally.id()).unwrap().ledger.handled, COUNT + 1);
}

#[test]
fn a_death_in_a_hook_dead_letters_no_queued_message() {
    let system = ProcessSystem::new().unwrap();
    let watched = system.spawn(Tally::default()).unwrap();
    let sender = system.spawn(Sender).unwrap();
    system.send(&sender, SenderMsg::Watch(watched)).unwrap();
    // The watch leaves the sender's process with the reply (frames keep their order), so once
    // the ask returns, the host has registered it.
    assert!(system.ask(&sender, SenderMsg::Pid, WAIT).is_ok());
    // In hand while the watched actor stops and five more messages queue up behind it.
    system.send(&sender, SenderMsg::Sleep(300)).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    system.send(&watched, TallyMsg::Stop).unwrap();
    for _ in 0..5 {
        system.send(&sender, SenderMsg::Work).unwrap();
    }
    // After the sleep, the `Terminated` signal comes before the queued messages and aborts the
    // process; the restarted actor handles all five, and then this ask.
    assert!(system.ask(&sender, SenderMsg::Pid, WAIT).is_ok());
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    let ledger = report.actor(sender.id()).unwrap().ledger;
    assert_eq!(report.failures.len(), 1, "{report:#?}");
    assert_eq!(
        (ledger.handled, ledger.dead_letters),
        (9, 0),
        "the watch, two asks, the sleep, five works: none lost {report:#?}"
    );
}

#[test]
fn a_batch_the_host_received_is_not_delivered_again_from_the_journal() {
    // The process dies after sending its batch and before its journal moves on: the journal
    // still holds the frames, and the host must see that it has them already.
    const COUNT: u64 = 100;
    let system = ProcessSystem::new().unwrap();
    let tally = system.spawn(Tally::default()).unwrap();
    let sender = system.spawn(Sender).unwrap();
    system
        .send(
            &sender,
            SenderMsg::SendThenAbortAfterBatch {
                to: tally,
                count: COUNT,
            },
        )
        .unwrap();
    assert_eq!(wait_for_sum(&system, &tally, COUNT), COUNT);
    // Answered by the restarted process: the dead one's journal has been read by now, and
    // anything it delivered was accepted before this ask's `Sum`.
    assert!(system.ask(&sender, SenderMsg::Pid, WAIT).is_ok());
    assert_eq!(sum(&system, &tally), COUNT, "each send delivered once");
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    assert_eq!(report.failures.len(), 1, "the abort: {report:#?}");
    let ledger = report.actor(sender.id()).unwrap().ledger;
    assert_eq!(
        (ledger.handled, ledger.dead_letters),
        (2, 0),
        "the handler returned before the abort"
    );
}
