//! Sends from inside an actor's process to receivers that cannot take them: each is refused at
//! the call with the error a send from outside gets (the process reads the receiver's state in
//! the directory the host shares with it), nothing becomes a dead letter, and every ledger
//! balances. A child's send names its message type by a key (`wire::TypeKey`), so this also
//! checks that the key tells one type from another; and a message too big for the journal.

use std::time::Duration;

use actor_core::{
    Actor, ActorError, ActorId, ActorRef, Addr, Backend, Context, ReplyTo, SendFailure,
    ShutdownMode,
};
use backend_process::ProcessSystem;
use serde::{Deserialize, Serialize};

backend_process::process_test_support!();

const WAIT: Duration = Duration::from_secs(30);

/// Counts the numbers it gets.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Counter {
    got: u64,
}

#[derive(Debug, Serialize, Deserialize)]
enum CounterMsg {
    Add(u64),
    /// Adds up the bytes.
    Bytes(Vec<u8>),
    Total(ReplyTo<u64>),
    Stop,
}

impl Actor for Counter {
    type Msg = CounterMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: CounterMsg) -> Result<(), ActorError> {
        match msg {
            CounterMsg::Add(n) => self.got += n,
            CounterMsg::Bytes(bytes) => {
                self.got += bytes.iter().map(|&b| u64::from(b)).sum::<u64>()
            }
            CounterMsg::Total(reply_to) => ctx.reply(reply_to, self.got),
            CounterMsg::Stop => ctx.stop(),
        }
        Ok(())
    }
}

/// Sends what it is told to, to whom it is told, from its own process.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Relay {
    /// How each `Add` and `Text` send went, in order: `None` for `Ok`.
    outcomes: Vec<Option<SendFailure>>,
}

#[derive(Debug, Serialize, Deserialize)]
enum RelayMsg {
    /// A number, as a `CounterMsg`.
    Add { to: ActorId, n: u64 },
    /// A string, to an address that says it takes strings.
    Text { to: ActorId },
    /// `len` bytes, each `byte`.
    Bytes { to: ActorId, len: usize, byte: u8 },
    /// Answers once everything before it has been sent, with how each send went.
    Done(ReplyTo<Vec<Option<SendFailure>>>),
}

impl Actor for Relay {
    type Msg = RelayMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: RelayMsg) -> Result<(), ActorError> {
        let failed = |e: String| ActorError::new(e);
        match msg {
            RelayMsg::Add { to, n } => {
                let sent = ctx.send(&Addr::<CounterMsg>::from_id(to), CounterMsg::Add(n));
                self.outcomes.push(sent.err().map(|e| e.reason().clone()));
            }
            RelayMsg::Text { to } => {
                let sent = ctx.send(&Addr::<String>::from_id(to), "not a number".to_string());
                self.outcomes.push(sent.err().map(|e| e.reason().clone()));
            }
            RelayMsg::Bytes { to, len, byte } => ctx
                .send(
                    &Addr::<CounterMsg>::from_id(to),
                    CounterMsg::Bytes(vec![byte; len]),
                )
                .map_err(|e| failed(e.to_string()))?,
            RelayMsg::Done(reply_to) => ctx.reply(reply_to, std::mem::take(&mut self.outcomes)),
        }
        Ok(())
    }
}

#[test]
fn sends_to_receivers_that_cannot_take_them_are_refused_at_the_call() {
    let system = ProcessSystem::new().expect("a system");
    let counter = system.spawn(Counter::default()).expect("spawn");
    let gone = system.spawn(Counter::default()).expect("spawn");
    let relay = system.spawn(Relay::default()).expect("spawn");
    system.send(&gone, CounterMsg::Stop).expect("send");
    // The stop has taken effect once an ask is refused.
    let deadline = std::time::Instant::now() + WAIT;
    while system.ask(&gone, CounterMsg::Total, WAIT).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the actor never stopped"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let unknown = ActorId::new(1 << 40);
    for msg in [
        RelayMsg::Add {
            to: counter.id(),
            n: 5,
        },
        RelayMsg::Text { to: counter.id() },
        RelayMsg::Add {
            to: gone.id(),
            n: 1,
        },
        RelayMsg::Add { to: unknown, n: 1 },
        RelayMsg::Add {
            to: counter.id(),
            n: 7,
        },
    ] {
        system.send(&relay, msg).expect("send to the relay");
    }
    let outcomes = system
        .ask(&relay, RelayMsg::Done, WAIT)
        .expect("the relay answers");
    match &outcomes[..] {
        [
            None,
            Some(SendFailure::WrongType { expected }),
            Some(SendFailure::Stopped),
            Some(SendFailure::UnknownActor),
            None,
        ] => assert!(expected.ends_with("CounterMsg"), "{expected}"),
        other => panic!("the sends went {other:?}"),
    }
    // The counter got both numbers, and only them: the string never reached it.
    let total = system.ask(&counter, CounterMsg::Total, WAIT);
    assert_eq!(total, Ok(12));

    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    // (The gone counter may hold a dead letter: an ask of the loop above, queued behind its
    // stop.)
    let dead: Vec<_> = report
        .dead_letters
        .iter()
        .filter(|d| d.to != gone.id())
        .map(|d| (d.to, d.reason))
        .collect();
    assert_eq!(dead, [], "{report}");
    let ledger = report
        .actor(counter.id())
        .expect("the counter's report")
        .ledger;
    // Two numbers and the ask for its total.
    assert_eq!(
        (ledger.accepted, ledger.handled, ledger.dead_letters),
        (3, 3, 0)
    );
    assert!(report.is_balanced(), "{report}");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
}

#[test]
fn a_message_too_big_for_the_journal_travels_alone_and_arrives_whole() {
    let system = ProcessSystem::new().expect("a system");
    let counter = system.spawn(Counter::default()).expect("spawn");
    let relay = system.spawn(Relay::default()).expect("spawn");
    // The journal's outbox holds 64 KiB of frames: 200 KiB go alone (`Uplink::Large`), between
    // two small ones that travel in batches.
    let sends = [
        RelayMsg::Add {
            to: counter.id(),
            n: 1,
        },
        RelayMsg::Bytes {
            to: counter.id(),
            len: 200 * 1024,
            byte: 3,
        },
        RelayMsg::Add {
            to: counter.id(),
            n: 2,
        },
    ];
    for msg in sends {
        system.send(&relay, msg).expect("send to the relay");
    }
    system
        .ask(&relay, RelayMsg::Done, WAIT)
        .expect("the relay answers");
    let total = system.ask(&counter, CounterMsg::Total, WAIT);
    assert_eq!(total, Ok(1 + 3 * 200 * 1024 + 2));
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report}");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(report.dead_letters.is_empty(), "{:?}", report.dead_letters);
}
