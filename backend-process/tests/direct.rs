//! Direct routes: messages from one actor's process written straight into another's. Order per
//! pair must hold across every change of way (through the host, then the route, then the host
//! again behind a fence), and the ledger must balance through a `kill -9` of either end, a
//! panic on a direct message, and a receiver that stops while its senders go on.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actor_core::{
    Actor, ActorError, ActorRef, Addr, Backend, Context, DeadLetterReason, Failure, Phase, ReplyTo,
    RestartLimit, ShutdownMode, SpawnOptions, Supervision,
};
use backend_process::ProcessSystem;
use serde::{Deserialize, Serialize};

backend_process::process_test_support!();

const WAIT: Duration = Duration::from_secs(30);

mod common;
use common::kill9;

/// Checks that each sender's numbers come in order, within each of its incarnations.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Sink {
    last: HashMap<u64, u64>,
    handled: u64,
    out_of_order: u64,
    /// Microseconds of work each number costs.
    slow: u64,
}

#[derive(Debug, Serialize, Deserialize)]
enum SinkMsg {
    /// Number `n` from sender `tag`; `pad` bytes of padding (too big for a route's slot when
    /// long); panics if `fail`.
    Num {
        tag: u64,
        n: u64,
        pad: Vec<u8>,
        fail: bool,
    },
    /// An ask, from a sender (it answers `()`), or from the test (it answers the counts).
    Ping(ReplyTo<()>),
    Counts(ReplyTo<(u64, u64)>),
    Stop,
}

impl Actor for Sink {
    type Msg = SinkMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: SinkMsg) -> Result<(), ActorError> {
        match msg {
            SinkMsg::Num { tag, n, fail, .. } => {
                assert!(!fail, "told to fail on {n}");
                let since = Instant::now();
                while since.elapsed() < Duration::from_micros(self.slow) {
                    std::hint::spin_loop();
                }
                self.handled += 1;
                if self.last.get(&tag).is_some_and(|&last| n <= last) {
                    self.out_of_order += 1;
                }
                self.last.insert(tag, n);
            }
            SinkMsg::Ping(reply_to) => ctx.reply(reply_to, ()),
            SinkMsg::Counts(reply_to) => ctx.reply(reply_to, (self.handled, self.out_of_order)),
            SinkMsg::Stop => ctx.stop(),
        }
        Ok(())
    }
}

/// Streams numbers to a sink, a chunk a message, with now and then a big one, an ask, or
/// one the sink fails on.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Source {
    sent: u64,
    /// Sends that returned an error (none should).
    refused: u64,
}

/// What a source streams: numbers `next..end` to `to`, tagged `tag`, `chunk` a message.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Plan {
    to: Addr<SinkMsg>,
    tag: u64,
    next: u64,
    end: u64,
    chunk: u64,
    /// Every how many numbers a big one, an ask (0: never).
    big_every: u64,
    ask_every: u64,
    /// The number the sink fails on (0: none).
    fail_at: u64,
}

#[derive(Debug, Serialize, Deserialize)]
enum SourceMsg {
    Stream(Plan),
    /// Sends `to` one number whose bytes, written to a route, do not decode.
    Garble(Addr<SinkMsg>),
    Pong,
    Sent(ReplyTo<(u64, u64)>),
    Stop,
}

impl Actor for Source {
    type Msg = SourceMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: SourceMsg) -> Result<(), ActorError> {
        match msg {
            SourceMsg::Stream(plan) => {
                let stop = plan.end.min(plan.next + plan.chunk);
                for n in plan.next..stop {
                    let every = |k: u64| k != 0 && n % k == k - 1;
                    if every(plan.ask_every) {
                        let sent = ctx.ask(&plan.to, SinkMsg::Ping, WAIT, |_| SourceMsg::Pong);
                        self.count(sent.is_ok());
                    }
                    let pad = if every(plan.big_every) {
                        vec![7; 300]
                    } else {
                        Vec::new()
                    };
                    let msg = SinkMsg::Num {
                        tag: plan.tag,
                        n,
                        pad,
                        fail: n == plan.fail_at && plan.fail_at != 0,
                    };
                    let sent = ctx.send(&plan.to, msg);
                    self.count(sent.is_ok());
                }
                if stop < plan.end {
                    let me = ctx.myself();
                    let more = SourceMsg::Stream(Plan { next: stop, ..plan });
                    ctx.send(&me, more)
                        .map_err(|e| ActorError::new(e.to_string()))?;
                }
            }
            SourceMsg::Garble(to) => {
                backend_process::fault_injection::garble_next_direct_message();
                let garbage = SinkMsg::Num {
                    tag: 0,
                    n: 0,
                    pad: Vec::new(),
                    fail: false,
                };
                let sent = ctx.send(&to, garbage);
                self.count(sent.is_ok());
            }
            SourceMsg::Pong => {}
            SourceMsg::Sent(reply_to) => ctx.reply(reply_to, (self.sent, self.refused)),
            SourceMsg::Stop => ctx.stop(),
        }
        Ok(())
    }
}

impl Source {
    fn count(&mut self, ok: bool) {
        if ok {
            self.sent += 1;
        } else {
            self.refused += 1;
        }
    }
}

fn stream(to: Addr<SinkMsg>, tag: u64, end: u64) -> Plan {
    Plan {
        to,
        tag,
        next: 0,
        end,
        chunk: 50,
        big_every: 0,
        ask_every: 0,
        fail_at: 0,
    }
}

fn restarting() -> SpawnOptions {
    SpawnOptions::new().supervision(Supervision::Restart(RestartLimit::new(
        u32::MAX,
        Duration::from_secs(1),
    )))
}

/// Waits until the sink has handled exactly `count` messages (or the deadline passes).
fn wait_for(system: &ProcessSystem, sink: &Addr<SinkMsg>, count: u64) -> (u64, u64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let counts = system.ask(sink, SinkMsg::Counts, WAIT).expect("counts");
        if counts.0 == count || Instant::now() > deadline {
            return counts;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How many of the source's sends returned `Ok`, and how many were refused.
fn counts_of(system: &ProcessSystem, source: &Addr<SourceMsg>) -> (u64, u64) {
    system.ask(source, SourceMsg::Sent, WAIT).expect("sent")
}

fn sent_by(system: &ProcessSystem, source: &Addr<SourceMsg>) -> u64 {
    let (sent, refused) = counts_of(system, source);
    assert_eq!(refused, 0, "a send from a handler returns Ok");
    sent
}

#[test]
fn order_per_pair_holds_through_every_change_of_way() {
    let system = ProcessSystem::new().unwrap();
    let sink = system.spawn(Sink::default()).unwrap();
    let sources: Vec<_> = (0..3)
        .map(|_| system.spawn(Source::default()).unwrap())
        .collect();
    const EACH: u64 = 6_000;
    for (tag, source) in sources.iter().enumerate() {
        // Big ones and asks go through the host behind a fence, and give the route up; a new
        // one is asked for after a few more sends.
        let msg = SourceMsg::Stream(Plan {
            big_every: 700 + tag as u64,
            ask_every: 900 + tag as u64,
            ..stream(sink, tag as u64, EACH)
        });
        system.send(source, msg).unwrap();
    }
    let seen = Instant::now();
    let mut most = (0, 0);
    while seen.elapsed() < WAIT && most.1 == 0 {
        let (open, switched) = system.direct_routes();
        most = (most.0.max(open), most.1.max(switched));
        std::thread::sleep(Duration::from_micros(200));
    }
    assert!(most.1 > 0, "no route was used: {most:?}");
    let (handled, out_of_order) = wait_for(&system, &sink, 3 * EACH);
    assert_eq!(out_of_order, 0);
    assert_eq!(handled, 3 * EACH);
    let sent: u64 = sources.iter().map(|s| sent_by(&system, s)).sum();
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    let sink_ledger = report.actors[sink.id().get() as usize].ledger;
    // The sources' sends and asks, and the test's asks for counts.
    assert!(
        sink_ledger.accepted >= sent,
        "{sink_ledger:?} against {sent} sent"
    );
    assert_eq!(sink_ledger.dead_letters, 0, "{report:#?}");
}

#[test]
fn a_panic_on_a_direct_message_loses_that_one_only() {
    let system = ProcessSystem::new().unwrap();
    let sink = system.spawn_with(Sink::default(), restarting()).unwrap();
    let source = system.spawn(Source::default()).unwrap();
    const END: u64 = 3_000;
    system
        .send(
            &source,
            SourceMsg::Stream(Plan {
                fail_at: 500,
                ..stream(sink, 1, END)
            }),
        )
        .unwrap();
    // The sink restarts empty-handed at the failure: the rest of the stream after it.
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline && sent_by(&system, &source) < END {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Before the failure it handles 500 at most, after it 2,499: never the same count.
    let (handled, out_of_order) = wait_for(&system, &sink, END - 501);
    assert_eq!(out_of_order, 0);
    assert_eq!(handled, END - 501, "everything after the failure");
    assert!(system.direct_routes().1 > 0, "the stream went direct");
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    let failures: Vec<_> = report
        .failures
        .iter()
        .filter(|f| f.actor == sink.id())
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].phase, Phase::Handle);
    assert!(matches!(&failures[0].failure, Failure::Panic(m) if m.contains("500")));
    assert_one_dead_letter(&report, sink.id(), DeadLetterReason::FailedWhileHandling);
}

/// A message on a route that does not decode is its sender's fault, as a frame that does not
/// decode is: the sender fails (and is restarted), the message is a dead letter on the
/// receiver's account, and the receiver goes on with its state.
#[test]
fn an_undecodable_direct_message_fails_its_sender_not_its_receiver() {
    let system = ProcessSystem::new().unwrap();
    let sink = system.spawn(Sink::default()).unwrap();
    let source = system.spawn(Source::default()).unwrap();
    const END: u64 = 1_000;
    let plan = stream(sink, 1, END);
    system.send(&source, SourceMsg::Stream(plan)).unwrap();
    assert_eq!(wait_for(&system, &sink, END), (END, 0));
    assert!(system.direct_routes().1 > 0, "the stream went direct");
    system.send(&source, SourceMsg::Garble(sink)).unwrap();
    // Once the sink has reported, the host restarts the source, and a new one has sent nothing
    // (an ask in hand at the restart fails: asked again).
    let deadline = Instant::now() + WAIT;
    while system.ask(&source, SourceMsg::Sent, WAIT) != Ok((0, 0)) {
        assert!(Instant::now() < deadline, "the source was not restarted");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        wait_for(&system, &sink, END),
        (END, 0),
        "the sink kept its state and handled nothing more"
    );
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    assert_eq!(report.failures.len(), 1, "{:#?}", report.failures);
    let failure = &report.failures[0];
    assert_eq!(failure.actor, source.id());
    assert!(
        matches!(&failure.failure, Failure::Transport(why) if why.contains("undecodable")),
        "{failure:?}"
    );
    assert_one_dead_letter(&report, sink.id(), DeadLetterReason::Undeliverable);
}

/// `to` has exactly one dead letter, kept with `reason`.
fn assert_one_dead_letter(
    report: &actor_core::ShutdownReport,
    to: actor_core::ActorId,
    reason: DeadLetterReason,
) {
    let ledger = report.actors[to.get() as usize].ledger;
    assert_eq!(ledger.dead_letters, 1, "{report:#?}");
    assert!(
        report
            .dead_letters
            .iter()
            .any(|d| d.to == to && d.reason == reason),
        "{report:#?}"
    );
}

/// Whose processes a test kills.
#[derive(Clone, Copy, PartialEq)]
enum Victims {
    Sink,
    Sources,
    /// The sink, a source, the sink, the other source, and so on: each killed source is given
    /// a new stream (with a tag of its own) to go on with.
    Both,
}

/// Kills, `kills` times, the current process of the sink or of a source while two sources
/// stream `END` numbers each to the sink; then checks the ledger, and that every killed
/// process is gone.
fn kills_during_direct_streams(victims: Victims, kills: usize) {
    let kill_sink = victims == Victims::Sink;
    const END: u64 = 100_000;
    let system = ProcessSystem::new().unwrap();
    let sink = system.spawn_with(Sink::default(), restarting()).unwrap();
    let sources: Vec<_> = (0..2)
        .map(|_| system.spawn_with(Source::default(), restarting()).unwrap())
        .collect();
    for (tag, source) in sources.iter().enumerate() {
        let msg = SourceMsg::Stream(Plan {
            chunk: 20,
            ..stream(sink, tag as u64, END)
        });
        system.send(source, msg).unwrap();
    }
    let deadline = Instant::now() + WAIT;
    while system.direct_routes().1 == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    assert!(system.direct_routes().1 > 0, "the streams went direct");
    let mut killed = 0;
    let mut pids = Vec::new();
    for k in 0..kills {
        let source = match victims {
            Victims::Sink => None,
            Victims::Sources => Some(&sources[k % 2]),
            Victims::Both => (k % 2 == 1).then(|| &sources[(k / 2) % 2]),
        };
        let victim = source.map_or(sink.id(), |s| s.id());
        std::thread::sleep(Duration::from_millis(3));
        if let Some(pid) = system.pid_of(victim)
            && kill9(pid)
        {
            killed += 1;
            pids.push(pid);
            if let Some(source) = source.filter(|_| victims == Victims::Both) {
                let plan = Plan {
                    chunk: 20,
                    ..stream(sink, 1_000 + k as u64, 5_000)
                };
                system.send(source, SourceMsg::Stream(plan)).unwrap();
            }
            // Its next process, before the next kill: each kill is of a live process.
            let deadline = Instant::now() + WAIT;
            while system.pid_of(victim).is_none_or(|p| p == pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    }
    assert_eq!(killed, kills);
    if kill_sink {
        // The sources lived: every send they made returned `Ok`, and each is counted once at
        // the sink, handled or dead.
        let deadline = Instant::now() + WAIT;
        while sources.iter().any(|s| sent_by(&system, s) < END) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    let sink_ledger = report.actors[sink.id().get() as usize].ledger;
    assert!(sink_ledger.handled > 0, "{sink_ledger:?}");
    if kill_sink {
        assert_eq!(sink_ledger.accepted, 2 * END, "{sink_ledger:?}");
        assert!(sink_ledger.dead_letters <= kills as u64, "{sink_ledger:?}");
    }
    let signal_9 = report
        .failures
        .iter()
        .filter(|f| f.failure == Failure::Signal(9))
        .count();
    assert_eq!(signal_9, killed, "every kill seen");
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} is still there"
        );
    }
}

#[test]
fn kill_9_of_the_receiver_of_a_direct_route_keeps_the_ledger_balanced() {
    kills_during_direct_streams(Victims::Sink, 20);
}

#[test]
fn kill_9_of_the_sender_of_a_direct_route_keeps_the_ledger_balanced() {
    kills_during_direct_streams(Victims::Sources, 20);
}

#[test]
fn two_hundred_kills_of_both_ends_of_direct_routes_keep_the_ledger_balanced() {
    kills_during_direct_streams(Victims::Both, 200);
}

#[test]
fn sends_to_a_receiver_that_stopped_are_refused_and_its_routes_close() {
    let system = ProcessSystem::new().unwrap();
    let sink = system.spawn(Sink::default()).unwrap();
    let source = system.spawn(Source::default()).unwrap();
    system
        .send(&source, SourceMsg::Stream(stream(sink, 0, 2_000_000)))
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while system.direct_routes().1 == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    assert!(system.direct_routes().1 > 0, "the stream went direct");
    system.send(&sink, SinkMsg::Stop).unwrap();
    let deadline = Instant::now() + WAIT;
    while system.direct_routes().0 > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        system.direct_routes().0,
        0,
        "the route closed with its receiver"
    );
    // The source goes on sending, now to a receiver that is gone: each send is refused at
    // the call (`Stopped`, checked in the directory), none is accepted to be lost.
    // Each ask waits for the source to answer between two chunks of its stream: the loop is
    // paced by the source's own progress, and ends at its first refused chunk.
    let (sent, refused) = counts_of(&system, &source);
    let deadline = Instant::now() + WAIT;
    let (sent_after, refused_after) = loop {
        let now = counts_of(&system, &source);
        if now.1 > refused || Instant::now() > deadline {
            break now;
        }
    };
    assert!(
        refused_after > refused,
        "no send was refused after the stop"
    );
    assert_eq!(sent_after, sent, "a send to the stopped sink returned Ok");
    let report = system.shutdown(ShutdownMode::DeadLetter, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    let undeliverable = report
        .dead_letters
        .iter()
        .filter(|d| d.reason == actor_core::DeadLetterReason::Undeliverable)
        .count();
    assert_eq!(undeliverable, 0, "{report:#?}");
}

#[test]
fn what_a_route_carried_before_an_answer_comes_before_what_the_answer_led_to() {
    let system = ProcessSystem::new().unwrap();
    // A slow sink, and fewer numbers than a route holds: all of them wait in the route.
    let sink = system
        .spawn(Sink {
            slow: 50,
            ..Sink::default()
        })
        .unwrap();
    let source = system.spawn(Source::default()).unwrap();
    const END: u64 = 1_000;
    system
        .send(
            &source,
            SourceMsg::Stream(Plan {
                chunk: 10,
                ..stream(sink, 0, END)
            }),
        )
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while sent_by(&system, &source) < END && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    assert!(system.direct_routes().1 > 0, "the stream went direct");
    // The source has written everything to the sink before it answered; this ask was sent
    // after the answer, so the sink handles it after all of that, as one mailbox would.
    let (handled, out_of_order) = system.ask(&sink, SinkMsg::Counts, WAIT).unwrap();
    assert_eq!((handled, out_of_order), (END, 0));
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
}

#[test]
fn a_route_whose_sender_stopped_is_closed_once_read_to_the_end() {
    let system = ProcessSystem::new().unwrap();
    let sink = system.spawn(Sink::default()).unwrap();
    let source = system.spawn(Source::default()).unwrap();
    const END: u64 = 500;
    system
        .send(&source, SourceMsg::Stream(stream(sink, 0, END)))
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while sent_by(&system, &source) < END && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    // The grant may reach the source after it has answered: it switches once it reads it.
    while system.direct_routes() != (1, 1) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    assert_eq!(system.direct_routes(), (1, 1));
    assert_eq!(wait_for(&system, &sink, END), (END, 0));
    system.send(&source, SourceMsg::Stop).unwrap();
    let deadline = Instant::now() + WAIT;
    while system.direct_routes().0 > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(system.direct_routes(), (0, 0), "closed with its sender");
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    let ledger = report.actors[sink.id().get() as usize].ledger;
    assert_eq!(
        ledger.handled,
        END + 1,
        "the numbers and the ask for counts: {ledger:?}"
    );
    assert_eq!(ledger.dead_letters, 0);
}
