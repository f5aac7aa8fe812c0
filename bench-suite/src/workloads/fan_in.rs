//! Fan-in: `producers` actors each send `per_producer` numbers to one sink, which sums them.
//! With one producer this is Savina's Counting. Measures mailbox throughput under contention.
//! [`run_from_outside`] is the one-way stream from a sender that is not an actor. The report
//! spawns the actors before its clock starts ([`Spawned`]).

use actor_core::{Actor, ActorError, Addr, Backend, Context, ReplyTo};
use serde::{Deserialize, Serialize};

use super::{TIMEOUT, WorkloadError, check};

/// Sums what it receives; answers once it has received the expected count.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Sink {
    received: u64,
    sum: u64,
    #[serde(skip)]
    waiting: Option<(u64, ReplyTo<(u64, u64)>)>,
}

/// A message to a [`Sink`].
#[derive(Debug, Serialize, Deserialize)]
pub enum SinkMsg {
    /// One number.
    Item(u64),
    /// Reply with (count, sum) once `count` items have arrived.
    Await {
        /// The number of items expected.
        count: u64,
        /// Where (count, sum) goes.
        reply_to: ReplyTo<(u64, u64)>,
    },
}

impl Sink {
    fn answer_if_done<C: Context<Self>>(&mut self, ctx: &mut C) {
        if let Some((count, _)) = &self.waiting
            && self.received >= *count
            && let Some((_, reply_to)) = self.waiting.take()
        {
            ctx.reply(reply_to, (self.received, self.sum));
        }
    }
}

impl Actor for Sink {
    type Msg = SinkMsg;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: SinkMsg) -> Result<(), ActorError> {
        match msg {
            SinkMsg::Item(n) => {
                self.received += 1;
                self.sum = self.sum.wrapping_add(n);
                if self.waiting.is_some() {
                    self.answer_if_done(ctx);
                }
            }
            SinkMsg::Await { count, reply_to } => {
                self.waiting = Some((count, reply_to));
                self.answer_if_done(ctx);
            }
        }
        Ok(())
    }
}

/// Sends numbers to a sink when told.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Producer;

/// Send the numbers `first..first + count` to `to`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Produce {
    /// The sink.
    pub to: Addr<SinkMsg>,
    /// The first number.
    pub first: u64,
    /// How many.
    pub count: u64,
    /// Answered once they are sent (the warm-up before a timed run asks this way).
    pub reply_to: Option<ReplyTo<()>>,
}

impl Actor for Producer {
    type Msg = Produce;

    fn handle<C: Context<Self>>(&mut self, ctx: &mut C, msg: Produce) -> Result<(), ActorError> {
        for n in msg.first..msg.first + msg.count {
            ctx.send(&msg.to, SinkMsg::Item(n))
                .map_err(|e| ActorError::new(e.to_string()))?;
        }
        if let Some(reply_to) = msg.reply_to {
            ctx.reply(reply_to, ());
        }
        Ok(())
    }
}

/// A sink and its producers, spawned and ready before a run is timed: the bare baselines start
/// their threads and processes before their clocks start, so the runs compare like with like (a
/// process spawn takes about a millisecond, a sizeable share of a short run).
pub struct Spawned {
    /// The sink.
    pub sink: Addr<SinkMsg>,
    /// The producers (none for the one-way stream from outside).
    pub producers: Vec<Addr<Produce>>,
}

impl Spawned {
    /// Spawns a sink and `producers` producers.
    ///
    /// # Errors
    /// A failed spawn.
    pub fn new<B: Backend>(system: &B, producers: usize) -> Result<Self, WorkloadError> {
        let sink = system.spawn(Sink::default())?;
        let producers = (0..producers)
            .map(|_| system.spawn(Producer))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { sink, producers })
    }

    /// Spawns them as [`new`](Self::new) does, then waits until each has handled a message
    /// and the system has settled: what the report does before its clock starts.
    ///
    /// # Errors
    /// A failed spawn, or an actor that does not answer.
    pub fn ready<B: Backend>(system: &B, producers: usize) -> Result<Self, WorkloadError> {
        let spawned = Self::new(system, producers)?;
        // Each actor has started (in its own process, on the process backend) once it answers.
        system.ask(
            &spawned.sink,
            |reply_to| SinkMsg::Await { count: 0, reply_to },
            TIMEOUT,
        )?;
        for producer in &spawned.producers {
            system.ask(
                producer,
                |reply_to| Produce {
                    to: spawned.sink,
                    first: 0,
                    count: 0,
                    reply_to: Some(reply_to),
                },
                TIMEOUT,
            )?;
        }
        // The process backend starts a spare process in the background after each spawn (the
        // next spawn boots it); given this long, it is not starting during the timed run.
        std::thread::sleep(std::time::Duration::from_millis(20));
        Ok(spawned)
    }

    /// Each producer sends `per_producer` numbers to the sink; returns the number received
    /// once the sink has them all. Use a fresh `Spawned` for each run: the sink counts on.
    ///
    /// # Errors
    /// A failed send or ask, or a count or sum that is not what was sent.
    pub fn fan_in<B: Backend>(&self, system: &B, per_producer: u64) -> Result<u64, WorkloadError> {
        for (k, producer) in self.producers.iter().enumerate() {
            system.send(
                producer,
                Produce {
                    to: self.sink,
                    first: k as u64 * per_producer,
                    count: per_producer,
                    reply_to: None,
                },
            )?;
        }
        self.await_sum(system, self.producers.len() as u64 * per_producer)
    }

    /// Sends `count` numbers to the sink from outside any actor (the calling thread); returns
    /// the number received once the sink has them all.
    ///
    /// # Errors
    /// A failed send or ask, or a count or sum that is not what was sent.
    pub fn one_way<B: Backend>(&self, system: &B, count: u64) -> Result<u64, WorkloadError> {
        for n in 0..count {
            system.send(&self.sink, SinkMsg::Item(n))?;
        }
        self.await_sum(system, count)
    }

    /// Waits for the sink to have `total` numbers, and checks their sum.
    fn await_sum<B: Backend>(&self, system: &B, total: u64) -> Result<u64, WorkloadError> {
        let (received, sum) = system.ask(
            &self.sink,
            |reply_to| SinkMsg::Await {
                count: total,
                reply_to,
            },
            TIMEOUT,
        )?;
        check(
            (total, total.wrapping_mul(total.wrapping_sub(1)) / 2),
            (received, sum),
        )?;
        Ok(received)
    }
}

/// Runs a fan-in of `producers` × `per_producer` messages, spawns included; returns the number
/// received.
///
/// # Errors
/// A failed spawn, send or ask, or a count or sum that is not what was sent.
pub fn run<B: Backend>(
    system: &B,
    producers: usize,
    per_producer: u64,
) -> Result<u64, WorkloadError> {
    Spawned::new(system, producers)?.fan_in(system, per_producer)
}

/// Sends `count` numbers to one sink from outside any actor (the calling thread), then waits
/// for the sink to have them all; returns the number received. The sink's spawn is included.
///
/// # Errors
/// A failed spawn, send or ask, or a count or sum that is not what was sent.
pub fn run_from_outside<B: Backend>(system: &B, count: u64) -> Result<u64, WorkloadError> {
    Spawned::new(system, 0)?.one_way(system, count)
}
