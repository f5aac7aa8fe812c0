//! A pool handler's run of sends to one receiver goes in a chunk at a time (`src/pool/outbox.rs`): what
//! that may change (when a run's tail arrives) and what it may not (the order any other actor
//! sees, the ledger, a bounded mailbox's refusals, a dedicated actor's sends going at once).

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use actor_core::{
    Actor, ActorError, ActorRef, Addr, Backend, Context, ReplyTo, SendFailure, ShutdownMode,
    SpawnOptions,
};
use backend_thread::{ThreadConfig, ThreadSystem};
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(10);

fn system() -> ThreadSystem {
    ThreadSystem::with_config(ThreadConfig::default().threads(2)).unwrap()
}

/// Keeps the numbers it gets, in order.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Log(Vec<u64>);

#[derive(Serialize, Deserialize)]
enum LogMsg {
    Item(u64),
    Seen(ReplyTo<Vec<u64>>),
}

impl Actor for Log {
    type Msg = LogMsg;
    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: LogMsg) -> Result<(), ActorError> {
        match msg {
            LogMsg::Item(n) => self.0.push(n),
            LogMsg::Seen(reply_to) => ctx.reply(reply_to, self.0.clone()),
        }
        Ok(())
    }
}

/// Waits until `log` holds `count` numbers, and returns them.
fn seen(system: &ThreadSystem, log: &Addr<LogMsg>, count: usize) -> Vec<u64> {
    seen_within(system, log, count, WAIT)
}

/// Waits until `log` holds `count` numbers or `wait` has passed, and returns them.
fn seen_within(
    system: &ThreadSystem,
    log: &Addr<LogMsg>,
    count: usize,
    wait: Duration,
) -> Vec<u64> {
    let deadline = Instant::now() + wait;
    loop {
        let seen = system.ask(log, LogMsg::Seen, WAIT).unwrap();
        if seen.len() >= count || Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until `flag` is set, or `WAIT` has passed.
fn wait_for(flag: &AtomicBool) {
    let deadline = Instant::now() + WAIT;
    while !flag.load(SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn send<A: Actor, M: actor_core::Message>(
    ctx: &mut impl Context<A>,
    to: &impl ActorRef<M>,
    msg: M,
) -> Result<(), ActorError> {
    ctx.send(to, msg)
        .map_err(|e| ActorError::new(e.to_string()))
}

/// Sends `Item(0..count)` to a log, then `count` to a relay, then sleeps: the relay (on its own
/// thread) forwards it to the log while the sender's handler is still running.
#[derive(Clone, Serialize, Deserialize)]
struct Burst {
    log: Addr<LogMsg>,
    relay: Addr<u64>,
}

impl Actor for Burst {
    type Msg = u64;
    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, count: u64) -> Result<(), ActorError> {
        for n in 0..count {
            send(ctx, &self.log, LogMsg::Item(n))?;
        }
        send(ctx, &self.relay, count)?;
        std::thread::sleep(Duration::from_millis(50));
        Ok(())
    }
}

/// Forwards what it gets to a log.
#[derive(Clone, Serialize, Deserialize)]
struct Relay(Addr<LogMsg>);

impl Actor for Relay {
    type Msg = u64;
    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, n: u64) -> Result<(), ActorError> {
        send(ctx, &self.0, LogMsg::Item(n))
    }
}

#[test]
fn a_run_of_sends_is_in_before_anything_the_handler_does_after_it() {
    let system = system();
    let log = system.spawn(Log::default()).unwrap();
    let dedicated = SpawnOptions::new().dedicated();
    let relay = system.spawn_with(Relay(log), dedicated).unwrap();
    let burst = system.spawn(Burst { log, relay }).unwrap();
    // 100 is not a multiple of the chunk: a tail of 36 is still held when the relay is sent to.
    system.send(&burst, 100).unwrap();
    let seen = seen(&system, &log, 101);
    assert_eq!(seen, (0..=100).collect::<Vec<_>>());
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}

/// Sends `Item(0..count)` to a log, then panics.
#[derive(Clone, Serialize, Deserialize)]
struct SendThenPanic(Addr<LogMsg>);

impl Actor for SendThenPanic {
    type Msg = u64;
    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, count: u64) -> Result<(), ActorError> {
        for n in 0..count {
            send(ctx, &self.0, LogMsg::Item(n))?;
        }
        panic!("after {count} sends");
    }
}

#[test]
fn the_sends_of_a_handler_that_panics_are_all_delivered() {
    let system = system();
    let log = system.spawn(Log::default()).unwrap();
    let sender = system.spawn(SendThenPanic(log)).unwrap();
    system.send(&sender, 1000).unwrap();
    assert_eq!(seen(&system, &log, 1000), (0..1000).collect::<Vec<_>>());
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced());
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].actor, sender.id());
}

/// Sleeps on its first message, then stops.
#[derive(Clone, Default, Serialize, Deserialize)]
struct NapThenStop;

static NAPPING: AtomicBool = AtomicBool::new(false);

impl Actor for NapThenStop {
    type Msg = u64;
    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, millis: u64) -> Result<(), ActorError> {
        NAPPING.store(true, SeqCst);
        std::thread::sleep(Duration::from_millis(millis));
        ctx.stop();
        Ok(())
    }
}

/// Sends to a target until a send is refused, then keeps how many were accepted.
#[derive(Clone, Default, Serialize, Deserialize)]
struct UntilRefused {
    accepted: u64,
    refusal: Option<String>,
}

#[derive(Serialize, Deserialize)]
enum UntilMsg {
    Go(Addr<u64>),
    Count(ReplyTo<(u64, Option<String>)>),
}

impl Actor for UntilRefused {
    type Msg = UntilMsg;
    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: UntilMsg) -> Result<(), ActorError> {
        match msg {
            UntilMsg::Go(to) => {
                for n in 0..10_000_000u64 {
                    if let Err(err) = ctx.send(&to, n) {
                        self.refusal = Some(err.reason().to_string());
                        break;
                    }
                    self.accepted += 1;
                    // Paced (about a microsecond a send), so the queue stays small while the
                    // target naps.
                    for _ in 0..200 {
                        std::hint::spin_loop();
                    }
                }
            }
            UntilMsg::Count(reply_to) => {
                ctx.reply(reply_to, (self.accepted, self.refusal.clone()));
            }
        }
        Ok(())
    }
}

#[test]
fn a_receiver_that_stops_during_a_run_has_every_accepted_send_on_its_account() {
    for _ in 0..5 {
        let system = system();
        let target = system.spawn(NapThenStop).unwrap();
        NAPPING.store(false, SeqCst);
        system.send(&target, 20).unwrap();
        // The target is in its nap, on the other worker, when the run starts.
        wait_for(&NAPPING);
        let sender = system.spawn(UntilRefused::default()).unwrap();
        system.send(&sender, UntilMsg::Go(target)).unwrap();
        let (accepted, refusal) = system.ask(&sender, UntilMsg::Count, WAIT).unwrap();
        // The run ends at the first refusal: held messages never hide a stop for long.
        assert_eq!(
            refusal.as_deref(),
            Some(SendFailure::Stopped.to_string().as_str())
        );
        let report = system.shutdown(ShutdownMode::Drain, WAIT);
        let account = report.actor(target.id()).unwrap().ledger;
        assert_eq!(account.accepted, accepted + 1, "every `Ok` on its account");
        assert_eq!(account.handled, 1);
        assert!(report.is_balanced());
    }
}

/// Blocks on each message until `GATE` opens, holding up its worker.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Gated;

static GATED: AtomicBool = AtomicBool::new(false);
static GATE: AtomicBool = AtomicBool::new(false);

impl Actor for Gated {
    type Msg = u64;
    fn handle<C: Context<Self>>(&mut self, _: &mut C, _: u64) -> Result<(), ActorError> {
        GATED.store(true, SeqCst);
        wait_for(&GATE);
        Ok(())
    }
}

/// Sends `count` numbers to a target, and logs how many were accepted.
#[derive(Clone, Serialize, Deserialize)]
struct CountAccepted {
    to: Addr<u64>,
    log: Addr<LogMsg>,
}

impl Actor for CountAccepted {
    type Msg = u64;
    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, count: u64) -> Result<(), ActorError> {
        let accepted = (0..count)
            .filter(|&n| ctx.send(&self.to, n).is_ok())
            .count();
        send(ctx, &self.log, LogMsg::Item(accepted as u64))
    }
}

#[test]
fn sends_to_a_bounded_mailbox_are_never_held_and_a_full_one_refuses_at_once() {
    let system = system();
    let log = system.spawn(Log::default()).unwrap();
    let bounded = SpawnOptions::new().capacity(3);
    let target = system.spawn_with(Gated, bounded).unwrap();
    // The target holds one worker in its first handler; its queue is empty.
    system.send(&target, 0).unwrap();
    wait_for(&GATED);
    let sender = system.spawn(CountAccepted { to: target, log }).unwrap();
    system.send(&sender, 10).unwrap();
    let seen = seen(&system, &log, 1);
    GATE.store(true, SeqCst);
    assert_eq!(seen, [3], "room for 3, and the 7 others refused when sent");
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}

/// Sends two numbers to a log, then blocks until the log has both (or a deadline passes).
#[derive(Clone, Serialize, Deserialize)]
struct SendTwoThenWatch(Addr<LogMsg>);

static TWO_SEEN: AtomicBool = AtomicBool::new(false);

impl Actor for SendTwoThenWatch {
    type Msg = u64;
    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, _: u64) -> Result<(), ActorError> {
        send(ctx, &self.0, LogMsg::Item(1))?;
        send(ctx, &self.0, LogMsg::Item(2))?;
        wait_for(&TWO_SEEN);
        Ok(())
    }
}

#[test]
fn a_dedicated_actors_sends_go_in_at_once() {
    let system = system();
    let log = system.spawn(Log::default()).unwrap();
    let dedicated = SpawnOptions::new().dedicated();
    let sender = system.spawn_with(SendTwoThenWatch(log), dedicated).unwrap();
    system.send(&sender, 0).unwrap();
    // Both arrive while the sender's handler is still running: held, the second would wait
    // for its end, which waits for both to have arrived.
    let seen = seen_within(&system, &log, 2, Duration::from_secs(3));
    TWO_SEEN.store(true, SeqCst);
    assert_eq!(seen, [1, 2]);
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}

/// Sends runs of two message types in turn: `Item`s to a log, numbers to a relay (which
/// forwards them to a second log), three runs of each.
#[derive(Clone, Serialize, Deserialize)]
struct Alternate {
    log: Addr<LogMsg>,
    relay: Addr<u64>,
}

impl Actor for Alternate {
    type Msg = u64;
    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, run: u64) -> Result<(), ActorError> {
        for round in 0..3 {
            for n in 0..run {
                send(ctx, &self.log, LogMsg::Item(round * run + n))?;
            }
            for n in 0..run {
                send(ctx, &self.relay, round * run + n)?;
            }
        }
        Ok(())
    }
}

#[test]
fn runs_of_different_message_types_each_arrive_whole_and_in_order() {
    let system = system();
    let log = system.spawn(Log::default()).unwrap();
    let relayed = system.spawn(Log::default()).unwrap();
    let relay = system.spawn(Relay(relayed)).unwrap();
    let sender = system.spawn(Alternate { log, relay }).unwrap();
    // 100: a chunk and a tail held, each run.
    system.send(&sender, 100).unwrap();
    let expected: Vec<u64> = (0..300).collect();
    assert_eq!(seen(&system, &log, 300), expected);
    assert_eq!(seen(&system, &relayed, 300), expected);
    assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
}

/// Stops on its first message; `stopped` says so.
#[derive(Clone, Default, Serialize, Deserialize)]
struct StopAtOnce;

static STOPPED: AtomicBool = AtomicBool::new(false);

impl Actor for StopAtOnce {
    type Msg = u64;
    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, _: u64) -> Result<(), ActorError> {
        ctx.stop();
        Ok(())
    }
    fn stopped(&mut self) {
        STOPPED.store(true, SeqCst);
    }
}

/// Sends once to a target, waits until it has stopped, sends nine more; logs how many were
/// accepted, and how many refused as `Stopped`.
#[derive(Clone, Serialize, Deserialize)]
struct SendAcrossAStop {
    to: Addr<u64>,
    log: Addr<LogMsg>,
}

impl Actor for SendAcrossAStop {
    type Msg = ();
    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, (): ()) -> Result<(), ActorError> {
        let mut outcomes = vec![ctx.send(&self.to, 0).map_err(|e| e.reason().clone())];
        wait_for(&STOPPED);
        outcomes.extend((1..10).map(|n| ctx.send(&self.to, n).map_err(|e| e.reason().clone())));
        let accepted = outcomes.iter().filter(|o| o.is_ok()).count();
        let refused = outcomes
            .iter()
            .filter(|o| matches!(o, Err(SendFailure::Stopped)))
            .count();
        send(ctx, &self.log, LogMsg::Item(accepted as u64))?;
        send(ctx, &self.log, LogMsg::Item(refused as u64))
    }
}

#[test]
fn a_send_after_its_receiver_has_stopped_is_refused_even_in_a_run() {
    let system = system();
    let log = system.spawn(Log::default()).unwrap();
    // On its own thread, the target stops while the sender's handler runs.
    let target = system
        .spawn_with(StopAtOnce, SpawnOptions::new().dedicated())
        .unwrap();
    let sender = system.spawn(SendAcrossAStop { to: target, log }).unwrap();
    system.send(&sender, ()).unwrap();
    assert_eq!(
        seen(&system, &log, 2),
        [1, 9],
        "one accepted, then nine refused"
    );
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert_eq!(report.actor(target.id()).unwrap().ledger.accepted, 1);
    assert!(report.is_balanced());
}

/// What a [`RunThenAct`] does after its run of sends.
#[derive(Serialize, Deserialize)]
enum Then {
    Reply(ReplyTo<()>),
    Spawn,
    SendAfter,
    Ask,
}

#[derive(Serialize, Deserialize)]
enum ActMsg {
    Go(Then),
    Answered,
}

/// Sends `Item(0..100)` to a log, then acts through its context in a way that makes another
/// actor send `Item(100)` to the log (or lets the test look at the log), then sleeps: that
/// other party must find the whole run in before it.
#[derive(Clone, Serialize, Deserialize)]
struct RunThenAct {
    log: Addr<LogMsg>,
    relay: Addr<u64>,
    echo: Addr<ReplyTo<()>>,
}

impl Actor for RunThenAct {
    type Msg = ActMsg;
    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: ActMsg) -> Result<(), ActorError> {
        let ActMsg::Go(then) = msg else {
            return Ok(());
        };
        for n in 0..100 {
            send(ctx, &self.log, LogMsg::Item(n))?;
        }
        match then {
            Then::Reply(reply_to) => ctx.reply(reply_to, ()),
            Then::Spawn => {
                let options = SpawnOptions::new().dedicated();
                ctx.spawn(Reporter(self.log), options)
                    .map_err(|e| ActorError::new(e.to_string()))?;
            }
            Then::SendAfter => ctx
                .send_after(&self.relay, 100, Duration::ZERO)
                .map_err(|e| ActorError::new(e.to_string()))?,
            Then::Ask => ctx
                .ask(&self.echo, |reply_to| reply_to, WAIT, |_| ActMsg::Answered)
                .map_err(|e| ActorError::new(e.to_string()))?,
        }
        std::thread::sleep(Duration::from_millis(50));
        Ok(())
    }
}

/// Sends `Item(100)` to a log when it starts.
#[derive(Clone, Serialize, Deserialize)]
struct Reporter(Addr<LogMsg>);

impl Actor for Reporter {
    type Msg = ();
    fn started<C: Context<Self>>(&mut self, ctx: &mut C) -> Result<(), ActorError> {
        send(ctx, &self.0, LogMsg::Item(100))
    }
    fn handle<C: Context<Self>>(&mut self, _: &mut C, (): ()) -> Result<(), ActorError> {
        Ok(())
    }
}

/// Sends `Item(100)` to a log, then answers.
#[derive(Clone, Serialize, Deserialize)]
struct Echo(Addr<LogMsg>);

impl Actor for Echo {
    type Msg = ReplyTo<()>;
    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, to: ReplyTo<()>) -> Result<(), ActorError> {
        send(ctx, &self.0, LogMsg::Item(100))?;
        ctx.reply(to, ());
        Ok(())
    }
}

#[test]
fn a_run_is_in_before_a_reply_a_spawn_a_timer_or_an_ask_that_follows_it() {
    for then in ["reply", "spawn", "send_after", "ask"] {
        let system = system();
        let log = system.spawn(Log::default()).unwrap();
        let dedicated = || SpawnOptions::new().dedicated();
        let relay = system.spawn_with(Relay(log), dedicated()).unwrap();
        let echo = system.spawn_with(Echo(log), dedicated()).unwrap();
        let actor = system.spawn(RunThenAct { log, relay, echo }).unwrap();
        let seen = match then {
            "reply" => {
                // The asker has the reply, then looks at the log: the whole run is there.
                system
                    .ask(&actor, |r| ActMsg::Go(Then::Reply(r)), WAIT)
                    .unwrap();
                system.ask(&log, LogMsg::Seen, WAIT).unwrap()
            }
            _ => {
                let go = match then {
                    "spawn" => Then::Spawn,
                    "send_after" => Then::SendAfter,
                    _ => Then::Ask,
                };
                system.send(&actor, ActMsg::Go(go)).unwrap();
                seen(&system, &log, 101)
            }
        };
        let whole_run = if then == "reply" { 100 } else { 101 };
        assert_eq!(seen, (0..whole_run).collect::<Vec<_>>(), "after the {then}");
        assert!(system.shutdown(ShutdownMode::Drain, WAIT).is_balanced());
    }
}
