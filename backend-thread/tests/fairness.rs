//! One busy actor does not starve the others: an actor that keeps sending itself messages
//! handles a budget of them, then gives its worker back, and the others get their turn, even on
//! a pool of one thread.

use std::time::Duration;

use actor_core::{Actor, ActorError, Addr, Backend, Context, ReplyTo, ShutdownMode};
use backend_thread::{ThreadConfig, ThreadSystem};

const WAIT: Duration = Duration::from_secs(10);

/// Sends itself a message for every message it handles, until told to stop.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Spinner {
    spins: u64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum SpinMsg {
    Spin,
    Stop(ReplyTo<u64>),
}

impl Actor for Spinner {
    type Msg = SpinMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: SpinMsg) -> Result<(), ActorError> {
        match msg {
            SpinMsg::Spin => {
                self.spins += 1;
                let me: Addr<SpinMsg> = ctx.myself();
                ctx.send(&me, SpinMsg::Spin)
                    .map_err(|e| ActorError::new(e.to_string()))?;
            }
            SpinMsg::Stop(reply_to) => {
                ctx.reply(reply_to, self.spins);
                ctx.stop();
            }
        }
        Ok(())
    }
}

/// Wakes two actors from inside its handler: the echo first, then the sink, which takes the
/// worker's next slot and pushes the echo out. The echo must still get its turn beside busy
/// actors, or the ask it answers never returns.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Fanout {
    echo: Addr<ReplyTo<()>>,
    sink: Addr<()>,
}

impl Actor for Fanout {
    type Msg = ReplyTo<()>;

    fn handle<C: Context<Self>>(
        &mut self,
        ctx: &mut C,
        reply_to: ReplyTo<()>,
    ) -> Result<(), ActorError> {
        ctx.send(&self.echo, reply_to)
            .map_err(|e| ActorError::new(e.to_string()))?;
        ctx.send(&self.sink, ())
            .map_err(|e| ActorError::new(e.to_string()))
    }
}

/// Takes anything, does nothing.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Sink;

impl Actor for Sink {
    type Msg = ();

    fn handle<C: Context<Self>>(&mut self, _: &mut C, (): ()) -> Result<(), ActorError> {
        Ok(())
    }
}

/// Answers at once.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Echo;

impl Actor for Echo {
    type Msg = ReplyTo<()>;

    fn handle<C: Context<Self>>(
        &mut self,
        ctx: &mut C,
        msg: ReplyTo<()>,
    ) -> Result<(), ActorError> {
        ctx.reply(msg, ());
        Ok(())
    }
}

#[test]
fn busy_actors_leave_room_for_the_others_on_one_worker() {
    for workers in [1, 2] {
        let system = ThreadSystem::with_config(ThreadConfig::default().threads(workers)).unwrap();
        // More spinners than workers: every worker is kept busy by one.
        let spinners: Vec<_> = (0..workers + 1)
            .map(|_| system.spawn(Spinner::default()).unwrap())
            .collect();
        for spinner in &spinners {
            system.send(spinner, SpinMsg::Spin).unwrap();
        }
        let echo = system.spawn(Echo).unwrap();
        for _ in 0..20 {
            assert_eq!(
                system.ask(&echo, |r| r, WAIT),
                Ok(()),
                "an idle actor got a turn beside {} spinners on {workers} worker(s)",
                workers + 1
            );
        }
        for spinner in &spinners {
            let spins = system.ask(spinner, SpinMsg::Stop, WAIT).unwrap();
            assert!(spins > 0, "each spinner ran too");
        }
        let report = system.shutdown(ShutdownMode::DeadLetter, WAIT);
        assert!(report.is_balanced(), "{report:#?}");
    }
}

#[test]
fn an_actor_pushed_out_of_a_next_slot_gets_its_turn_beside_busy_actors() {
    let system = ThreadSystem::with_config(ThreadConfig::default().threads(1)).unwrap();
    let spinners: Vec<_> = (0..2)
        .map(|_| system.spawn(Spinner::default()).unwrap())
        .collect();
    for spinner in &spinners {
        system.send(spinner, SpinMsg::Spin).unwrap();
    }
    let echo = system.spawn(Echo).unwrap();
    let sink = system.spawn(Sink).unwrap();
    let fanout = system.spawn(Fanout { echo, sink }).unwrap();
    for _ in 0..20 {
        assert_eq!(
            system.ask(&fanout, |r| r, WAIT),
            Ok(()),
            "the echo pushed out of the slot answered beside two spinners on one worker"
        );
    }
    for spinner in &spinners {
        system.ask(spinner, SpinMsg::Stop, WAIT).unwrap();
    }
    let report = system.shutdown(ShutdownMode::DeadLetter, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
}

#[test]
fn actors_woken_from_many_threads_outside_the_pool_all_run() {
    // Every ask below wakes an idle actor from outside the pool, so it goes through the ready
    // queue; the jobs taking ready actors come and go as the queue empties and fills. This
    // guards that they keep running the actors queued. (A wake-up lost between a job's last
    // look and its end would mostly be rescued by the next wake-up: this does not catch it.)
    let system = ThreadSystem::with_config(ThreadConfig::default().threads(2)).unwrap();
    let echoes: Vec<_> = (0..64).map(|_| system.spawn(Echo).unwrap()).collect();
    std::thread::scope(|scope| {
        for asker in 0..4 {
            let (system, echoes) = (&system, &echoes);
            scope.spawn(move || {
                for n in 0..2_000 {
                    let echo = &echoes[(asker * 7 + n * 13) % echoes.len()];
                    assert_eq!(system.ask(echo, |r| r, WAIT), Ok(()), "ask {n} of {asker}");
                }
            });
        }
    });
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
    assert_eq!(report.total().handled, 8_000);
}

/// Holds its worker for a while at its first message.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Blocker;

impl Actor for Blocker {
    type Msg = Duration;

    fn handle<C: Context<Self>>(&mut self, _ctx: &mut C, hold: Duration) -> Result<(), ActorError> {
        std::thread::sleep(hold);
        Ok(())
    }
}

#[test]
fn more_ready_actors_than_the_ready_ring_holds_all_run_in_turn() {
    // One worker, held by a blocker while 6,000 actors are spawned from outside: every one of
    // them waits in the ready queue, past the 4,096 its ring holds, and must still run once the
    // worker is free. (Checked: with the overflow's pushes dropped, the asks time out.)
    let system = ThreadSystem::with_config(ThreadConfig::default().threads(1)).unwrap();
    let blocker = system.spawn(Blocker).unwrap();
    system.send(&blocker, Duration::from_millis(300)).unwrap();
    // A new actor is scheduled from birth: spawned from outside, each joins the ready queue.
    let echoes: Vec<_> = (0..6_000).map(|_| system.spawn(Echo).unwrap()).collect();
    for (n, echo) in echoes.iter().enumerate() {
        assert_eq!(system.ask(echo, |r| r, WAIT), Ok(()), "echo {n}");
    }
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert!(report.is_balanced(), "{report:#?}");
}
