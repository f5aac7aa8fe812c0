//! Bad input from an actor's process: a frame that does not decode, a message over the frame
//! limit (refused by the child itself, or, from a child that does not, by the host). Each fails
//! the actor that sent it, with a typed error, and no other: a bystander keeps its process.

use std::time::Duration;

use actor_core::{
    Actor, ActorError, ActorRef, Addr, Backend, Context, Failure, ReplyTo, ShutdownMode,
};
use backend_process::{ProcessConfig, ProcessSystem, fault_injection};

backend_process::process_test_support!();

const WAIT: Duration = Duration::from_secs(10);

mod common;
use common::Pid;

/// Misbehaves on purpose.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Saboteur;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum SabotageMsg {
    /// Sends the host a frame that does not decode.
    Garbage,
    /// Sends `bytes` bytes to `to`; past this process's own check of the frame limit if
    /// `unchecked`.
    Huge {
        to: Addr<Vec<u8>>,
        bytes: usize,
        unchecked: bool,
    },
    Ping(ReplyTo<()>),
}

impl Actor for Saboteur {
    type Msg = SabotageMsg;

    fn handle<C: Context<Self>>(
        &mut self,
        ctx: &mut C,
        msg: SabotageMsg,
    ) -> Result<(), ActorError> {
        match msg {
            SabotageMsg::Garbage => {
                assert!(fault_injection::send_undecodable_frame());
                std::thread::sleep(Duration::from_secs(5)); // the host kills this process first
            }
            SabotageMsg::Huge {
                to,
                bytes,
                unchecked,
            } => {
                if unchecked {
                    fault_injection::ignore_frame_limit();
                }
                ctx.send(&to, vec![7u8; bytes])
                    .map_err(|e| ActorError::new(e.to_string()))?;
                std::thread::sleep(Duration::from_secs(5));
            }
            SabotageMsg::Ping(reply_to) => ctx.reply(reply_to, ()),
        }
        Ok(())
    }
}

#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Bytes;

impl Actor for Bytes {
    type Msg = Vec<u8>;
    fn handle<C: Context<Self>>(&mut self, _: &mut C, _: Vec<u8>) -> Result<(), ActorError> {
        Ok(())
    }
}

/// A bystander and its process's id.
fn bystander(system: &ProcessSystem) -> (Addr<ReplyTo<u32>>, u32) {
    let bystander = system.spawn(Pid).unwrap();
    let pid = system.ask(&bystander, |r| r, WAIT).unwrap();
    (bystander, pid)
}

#[test]
fn an_undecodable_frame_fails_only_the_actor_that_sent_it() {
    let system = ProcessSystem::new().unwrap();
    let saboteur = system.spawn(Saboteur).unwrap();
    let (bystander, pid) = bystander(&system);
    system.send(&saboteur, SabotageMsg::Garbage).unwrap();
    // The saboteur is restarted and answers; the bystander never noticed.
    assert_eq!(system.ask(&saboteur, SabotageMsg::Ping, WAIT), Ok(()));
    assert_eq!(system.ask(&bystander, |r| r, WAIT), Ok(pid), "untouched");
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    let failure = &report.failures[0];
    assert_eq!(failure.actor, saboteur.id());
    assert!(
        matches!(&failure.failure, Failure::Transport(why) if why.contains("undecodable")),
        "{failure:?}"
    );
    assert!(report.failures.iter().all(|f| f.actor == saboteur.id()));
    assert!(report.is_balanced());
}

#[test]
fn an_oversized_message_is_refused_inside_and_outside() {
    let config = ProcessConfig::default().max_frame(64 * 1024);
    let system = ProcessSystem::with_config(config).unwrap();
    let sink = system.spawn(Bytes).unwrap();
    let err = system.send(&sink, vec![0u8; 100 * 1024]).unwrap_err();
    assert!(
        matches!(err.reason(), actor_core::SendFailure::Transport(_)),
        "{err}"
    );
    assert_eq!(
        err.into_message().len(),
        100 * 1024,
        "the message comes back"
    );
    let saboteur = system.spawn(Saboteur).unwrap();
    let huge = SabotageMsg::Huge {
        to: sink,
        bytes: 100 * 1024,
        unchecked: false,
    };
    system.send(&saboteur, huge).unwrap();
    assert_eq!(
        system.ask(&saboteur, SabotageMsg::Ping, WAIT),
        Ok(()),
        "restarted"
    );
    system.send(&sink, vec![1u8; 1024]).unwrap();
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    // The child refuses the oversized send itself (the host would kill a child that did not).
    let refused = &report.failures[0].failure;
    assert!(
        matches!(refused, Failure::Error(why) if why.contains("frame limit")),
        "{report:#?}"
    );
    assert_eq!(
        report.actor(sink.id()).unwrap().ledger.handled,
        1,
        "only the small one arrived"
    );
    assert!(report.is_balanced());
}

/// A child that does not refuse a message over the limit (its memory corrupted, say) sends the
/// host a frame over it: the host refuses the frame and fails that child, and no other.
#[test]
fn a_frame_over_the_limit_fails_only_the_actor_that_sent_it() {
    let config = ProcessConfig::default().max_frame(64 * 1024);
    let system = ProcessSystem::with_config(config).unwrap();
    let sink = system.spawn(Bytes).unwrap();
    let (bystander, pid) = bystander(&system);
    let saboteur = system.spawn(Saboteur).unwrap();
    let huge = SabotageMsg::Huge {
        to: sink,
        bytes: 100 * 1024,
        unchecked: true,
    };
    system.send(&saboteur, huge).unwrap();
    assert_eq!(
        system.ask(&saboteur, SabotageMsg::Ping, WAIT),
        Ok(()),
        "restarted"
    );
    assert_eq!(system.ask(&bystander, |r| r, WAIT), Ok(pid), "untouched");
    let report = system.shutdown(ShutdownMode::Drain, WAIT);
    assert_eq!(report.failures.len(), 1, "{:#?}", report.failures);
    let failure = &report.failures[0];
    assert_eq!(failure.actor, saboteur.id());
    assert!(
        matches!(&failure.failure, Failure::Transport(why) if why.contains("the limit is 65536")),
        "{failure:?}"
    );
    let sink_ledger = report.actor(sink.id()).unwrap().ledger;
    assert_eq!(
        sink_ledger.accepted, 0,
        "the frame was refused, not delivered"
    );
    assert!(report.is_balanced(), "{report:#?}");
}
