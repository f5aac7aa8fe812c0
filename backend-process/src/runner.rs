//! Runs one actor in its process: [`run_actor`] takes the next signal or message (from the
//! ring, a direct route or the socket, `os/child/io.rs`) and calls its hook under the kernel's
//! `catch`, recording each message's start and end in the journal, and reports failures and
//! waits for the supervisor's answer.

use std::collections::HashMap;

use actor_core::kernel::{Caught, catch, catch_stopped};
use actor_core::{Actor, AskError, Failure, Phase};

use crate::ask::Completion;
use crate::context::ProcessContext;
use crate::os::child::{ChildIo, EntryRecord, MAGIC, Next};
use crate::os::packed::Record;
use crate::os::wire::{DeliveryRef, Entry, Fence, Payload, ToChild, ToHost, decode};

/// The entry record of one actor type: a constant, so that it lies in the executable's image
/// (`os/child/entry.rs`).
struct Records<A>(std::marker::PhantomData<A>);

impl<A: Actor> Records<A> {
    const RECORD: EntryRecord = EntryRecord {
        magic: MAGIC,
        actor_type: std::any::type_name::<A>,
        run: run_actor::<A>,
    };
}

/// How the host names `A` to the process that is to run it.
pub(crate) fn entry_of<A: Actor>() -> Entry {
    Entry::of(&Records::<A>::RECORD)
}

/// The actor's state and the asks it is waiting on.
pub(crate) struct Runner<A: Actor> {
    initial: A,
    current: A,
    pub asks: HashMap<u64, Completion<A::Msg>>,
}

/// A delivery from the host, opened (`Runner::open`).
enum Opened<M> {
    /// A message to handle (or the reason it cannot be).
    Message(Result<M, Failure>),
    /// The outcome of an ask, for the closure that turns it into a message.
    Outcome(Completion<M>, Result<Payload, AskError>),
    /// The outcome of an ask nobody waits for.
    Unawaited,
}

/// How an actor's process ends.
enum End {
    /// Stopped (by itself or by shutdown): exit normally.
    Exit,
}

/// The loop of an actor's process. Every message's start and end are recorded in the journal
/// before and after its handler, so that if this process dies the host knows which message was
/// in hand: that one is dead-lettered, the ones after it go to the restarted actor.
pub(crate) fn run_actor<A: Actor>(mut io: ChildIo, actor: Payload) -> Result<(), String> {
    let initial: A = decode(&actor)?;
    let mut runner = Runner {
        current: initial.clone(),
        initial,
        asks: HashMap::new(),
    };
    let End::Exit = runner.serve(&mut io)?;
    Ok(())
}

impl<A: Actor> Runner<A> {
    fn serve(&mut self, io: &mut ChildIo) -> Result<End, String> {
        self.start(io)?;
        if io.stop_requested {
            // `ctx.stop()` in `started`.
            return self.exit(io);
        }
        // Deliveries come in the ring, taken when those in hand run out, and in the direct
        // routes from other actors, read in place (`io.next` picks which is next). When there
        // is nothing to handle, what the handlers sent through the host leaves first: the
        // replies a sender may be waiting for go before this process looks for more work.
        // Signals, shutdown and answers come on the socket, looked at before every message (a
        // load from shared memory unless one has come).
        loop {
            if !io.has_work() {
                io.flush_sends()?;
            }
            // Looked at while direct routes have work too, or what comes through the host
            // would wait for them to run dry.
            if !io.has_deliveries() {
                io.take_ring(true)?;
            }
            io.read_ahead()?;
            if io.shutdown {
                return self.exit(io);
            }
            if let Some(signal) = io.take_signal() {
                let result = {
                    let mut ctx = ProcessContext::new(io, &mut self.asks);
                    catch(Phase::Signal, || self.current.signal(&mut ctx, signal))
                };
                match result {
                    Ok(()) => io.progress()?,
                    Err(caught) => self.fail(io, None, caught)?,
                }
            } else {
                match io.next()? {
                    Some(Next::Host) => self.deliver(io)?,
                    Some(Next::Direct(i)) => self.deliver_direct(io, i)?,
                    None => {
                        io.wait()?;
                        continue;
                    }
                }
            }
            if io.stop_requested {
                return self.exit(io);
            }
        }
    }

    /// Runs `stopped`, tells the host, and sends the last batch.
    fn exit(&mut self, io: &mut ChildIo) -> Result<End, String> {
        self.stopped(io)?;
        io.send(ToHost::Stopped)?;
        io.flush()?;
        Ok(End::Exit)
    }

    /// Runs `started` until it succeeds or the supervisor gives up.
    fn start(&mut self, io: &mut ChildIo) -> Result<(), String> {
        loop {
            let result = {
                let mut ctx = ProcessContext::new(io, &mut self.asks);
                catch(Phase::Started, || self.current.started(&mut ctx))
            };
            match result {
                Ok(()) => return io.send(ToHost::Started),
                Err(caught) => {
                    io.send(ToHost::Failed {
                        seq: None,
                        direct: None,
                        phase: caught.phase,
                        failure: caught.failure,
                    })?;
                    self.await_decision(io)?;
                }
            }
        }
    }

    /// Handles the first delivery from the host. Its message is decoded out of the record
    /// where it lies, and the record dropped, before the handler runs: the handler borrows
    /// `io`, the record's buffer with it. `Err` if the bytes from the host are not deliveries
    /// at all (nothing after them can be framed, so this process cannot go on).
    fn deliver(&mut self, io: &mut ChildIo) -> Result<(), String> {
        io.settle_front()?;
        let (seq, fence, opened, taken) = {
            let record = match io.reading.front() {
                Some(record) => record?,
                None => return Ok(()),
            };
            let (fence, opened) = self.open(&record);
            (record.seq, fence, opened, record.bytes.len())
        };
        io.reading.drop_front(taken, 1);
        io.begin(seq);
        // Past its fence, a route its sender gave up may be done with.
        if let Some(fence) = fence
            && io.incoming.retire(fence)
        {
            io.send(ToHost::RouteDone { route: fence.route })?;
        }
        let msg = match opened {
            Opened::Message(msg) => msg.map_err(|failure| Caught {
                phase: Phase::Handle,
                failure,
            }),
            // The asker's own closure: a panic in it is this actor's failure.
            Opened::Outcome(complete, outcome) => catch(Phase::Handle, || Ok(complete(outcome))),
            // Nobody waits for it (a previous instance asked): nothing to do.
            Opened::Unawaited => return io.finish(seq),
        };
        let result = msg.and_then(|msg| {
            let mut ctx = ProcessContext::new(io, &mut self.asks);
            catch(Phase::Handle, || self.current.handle(&mut ctx, msg))
        });
        match result {
            Ok(()) => io.finish(seq),
            // Not `finish`ed: should this process die before the host reads the `Failed`
            // frame, the journal still says the message was in hand.
            Err(caught) => self.fail(io, Some(seq), caught),
        }
    }

    /// What a delivery from the host holds, decoded into values of their own, and its fence.
    /// A plain message (most deliveries) is decoded straight from the record's body.
    fn open(&mut self, record: &Record<'_>) -> (Option<Fence>, Opened<A::Msg>) {
        let decoded = |payload: &[u8]| Opened::Message(decode(payload).map_err(Failure::Transport));
        if let Some(body) = record.plain_body() {
            return (None, decoded(body));
        }
        match record.delivery() {
            Ok(DeliveryRef::Message { payload, after, .. }) => (after, decoded(payload.0)),
            Ok(DeliveryRef::AskOutcome {
                request,
                outcome,
                after,
            }) => (
                after,
                match self.asks.remove(&request) {
                    Some(complete) => {
                        Opened::Outcome(complete, outcome.map(|reply| reply.0.to_vec()))
                    }
                    None => Opened::Unawaited,
                },
            ),
            Err(e) => (None, Opened::Message(Err(Failure::Transport(e)))),
        }
    }

    /// Handles the next message of direct route `i` (`child/routes.rs`). The route says it
    /// was begun, and is freed once it is done with: should this process die between the
    /// two, the host knows it was in hand.
    fn deliver_direct(&mut self, io: &mut ChildIo, i: usize) -> Result<(), String> {
        let mut payload = std::mem::take(&mut io.direct_payload);
        if !io.incoming.begin(i, &mut payload) {
            io.direct_payload = payload;
            return Ok(());
        }
        let (route, place) = (io.incoming.route(i), io.incoming.read(i));
        let decoded = decode::<A::Msg>(&payload);
        io.direct_payload = payload;
        let msg = match decoded {
            Ok(msg) => msg,
            // Bytes that no message decodes from are the sender's fault (as a frame that does
            // not decode is), not this actor's, which goes on. Reported before the route moves
            // past the message, as a failure is, so that it is counted dead once.
            Err(error) => {
                io.send(ToHost::Undecodable {
                    route,
                    place,
                    error,
                })?;
                io.flush()?;
                io.incoming.finish(i);
                return io.progress();
            }
        };
        let result = {
            let mut ctx = ProcessContext::new(io, &mut self.asks);
            catch(Phase::Handle, || self.current.handle(&mut ctx, msg))
        };
        match result {
            Ok(()) => {
                io.incoming.finish(i);
                io.progress()
            }
            Err(Caught { phase, failure }) => {
                self.stopped(io)?;
                // Should this process die before the host reads the report, the route still
                // says the message was in hand; after, the report says it: counted once.
                io.send(ToHost::Failed {
                    seq: None,
                    direct: Some((route, place)),
                    phase,
                    failure,
                })?;
                // The report leaves before the route moves past the message: the host has it
                // (and counts the message dead) before the route stops saying it is in hand.
                io.flush()?;
                io.incoming.finish(i);
                self.await_decision(io)?;
                self.start(io)
            }
        }
    }

    /// Reports a failure and waits for the supervisor: restart here, or exit.
    fn fail(&mut self, io: &mut ChildIo, seq: Option<u64>, caught: Caught) -> Result<(), String> {
        self.stopped(io)?;
        io.send(ToHost::Failed {
            seq,
            direct: None,
            phase: caught.phase,
            failure: caught.failure,
        })?;
        self.await_decision(io)?;
        self.start(io)
    }

    fn await_decision(&mut self, io: &mut ChildIo) -> Result<(), String> {
        match io.wait_answer(|m| matches!(m, ToChild::Restart | ToChild::Shutdown))? {
            ToChild::Restart => {
                self.current = self.initial.clone();
                self.asks.clear();
                io.stop_requested = false;
                Ok(())
            }
            // The supervisor gave up: this process ends (the host expects it).
            _ => std::process::exit(0),
        }
    }

    fn stopped(&mut self, io: &mut ChildIo) -> Result<(), String> {
        if let Err(caught) = catch_stopped(|| self.current.stopped()) {
            io.send(ToHost::StoppedFailed {
                failure: caught.failure,
            })?;
        }
        Ok(())
    }
}
