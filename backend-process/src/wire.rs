//! What crosses a process boundary: the messages between the host and a child, and the
//! encoding of actor state and user messages inside them (postcard).

use std::time::Duration;

use actor_core::{ActorId, AskError, Asker, Failure, Phase, Signal, SpawnError, SpawnOptions};
use ipc_channel::ipc::{IpcSender, IpcSharedMemory};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A user message or actor state, encoded.
pub(crate) type Payload = Vec<u8>;

/// Encodes a value for another process.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Payload, String> {
    postcard::to_stdvec(value)
        .map_err(|e| format!("cannot encode a {}: {e}", std::any::type_name::<T>()))
}

/// Decodes a value from another process.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    postcard::from_bytes(bytes)
        .map_err(|e| format!("cannot decode a {}: {e}", std::any::type_name::<T>()))
}

/// Payloads to a child bigger than this travel in shared memory (see [`large`]).
pub(crate) const LARGE: usize = 64 * 1024;

/// How a payload to a child is written: inline up to [`LARGE`] bytes, above that in a fresh
/// shared-memory region whose file descriptor goes with the message. ipc-channel would write a
/// big payload in fragments over a channel it keeps open until the send ends, so a child that
/// died in the middle would leave the writer waiting for ever; one descriptor is never
/// fragmented. The host keeps its copy as plain bytes: the region exists only while the message
/// is written, and the child copies it out (`Vec<u8>` on both sides).
pub(crate) mod large {
    use ipc_channel::ipc::IpcSharedMemory;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize)]
    enum Out<'a> {
        Inline(&'a [u8]),
        Shared(IpcSharedMemory),
    }

    /// The same shape as `Out`, read back.
    #[derive(Deserialize)]
    enum In {
        Inline(Vec<u8>),
        Shared(IpcSharedMemory),
    }

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        if bytes.len() > super::LARGE {
            Out::Shared(IpcSharedMemory::from_bytes(bytes)).serialize(serializer)
        } else {
            Out::Inline(bytes).serialize(serializer)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        Ok(match In::deserialize(deserializer)? {
            In::Inline(bytes) => bytes,
            In::Shared(memory) => memory.to_vec(),
        })
    }

    /// The same for an `ask`'s outcome.
    pub mod outcome {
        use actor_core::AskError;
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        #[derive(Serialize)]
        enum Out<'a> {
            Reply(#[serde(with = "super")] &'a Vec<u8>),
            Failed(&'a AskError),
        }

        #[derive(Deserialize)]
        enum In {
            Reply(#[serde(with = "super")] Vec<u8>),
            Failed(AskError),
        }

        pub fn serialize<S: Serializer>(
            outcome: &Result<Vec<u8>, AskError>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match outcome {
                Ok(reply) => Out::Reply(reply).serialize(serializer),
                Err(e) => Out::Failed(e).serialize(serializer),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Result<Vec<u8>, AskError>, D::Error> {
            Ok(match In::deserialize(deserializer)? {
                In::Reply(reply) => Ok(reply),
                In::Failed(e) => Err(e),
            })
        }
    }
}

/// A message on its way to a child, or delivered to it and not yet confirmed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Delivery {
    /// The host's number for it, increasing along a child's stream; the journal records it.
    pub seq: u64,
    pub kind: DeliveryKind,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum DeliveryKind {
    /// A user message, and who is waiting for its reply if it is an `ask`.
    Message {
        #[serde(with = "large")]
        payload: Payload,
        ask: Option<(Asker, u64)>,
    },
    /// The outcome of an `ask` this actor made: the reply, encoded, or why there is none.
    AskOutcome {
        request: u64,
        #[serde(with = "large::outcome")]
        outcome: Result<Payload, AskError>,
    },
}

/// Host to child. The host sends deliveries it keeps a shared copy of (`D = Arc<Delivery>`),
/// which encode exactly as the `Delivery` values the child reads.
#[derive(Serialize, Deserialize)]
pub(crate) enum ToChild<D = Delivery> {
    /// The actor to run: where its code is (see `child.rs`), its initial state, its identity.
    Boot {
        entry: u64,
        #[serde(with = "large")]
        actor: Payload,
        id: ActorId,
        clock_offset: Duration,
        request_base: u64,
        /// The host's frame limit: the child refuses bigger sends itself.
        max_frame: usize,
        /// This process's journal (see `journal.rs`), shared with the host.
        journal: IpcSharedMemory,
    },
    Deliver(Vec<D>),
    Signal(Signal),
    /// The supervisor's answer to a failure: start again from the initial state.
    Restart,
    /// Stop after the current message, run `stopped`, exit.
    Shutdown,
    /// The answer to a `Spawn`.
    Spawned {
        token: u64,
        result: Result<ActorId, SpawnError>,
    },
}

/// What a child writes on its channel to the host.
#[derive(Serialize, Deserialize)]
pub(crate) enum Uplink {
    /// The first message, on the bootstrap channel, with the secret the host gave the child.
    Hello {
        to_child: IpcSender<ToChild>,
        token: u64,
    },
    /// A batch of frames from the journal's outbox, and how far the child has got: every
    /// message up to `finished` has been handled (or failed, which a `Failed` frame says).
    Batch {
        batch: u64,
        finished: u64,
        /// How many IPC messages from the host the child has read (see `link.rs`).
        received: u64,
        frames: Vec<u8>,
    },
    /// One frame too big for the journal's outbox, sent alone after the batch before it.
    Large(ToHost),
}

/// A frame from a child: one thing it tells the host. Frames travel in batches ([`Uplink`]).
#[derive(Serialize, Deserialize)]
pub(crate) enum ToHost {
    /// `started` has succeeded.
    Started,
    /// A hook failed; the child waits for `Restart` or `Shutdown`.
    Failed {
        seq: Option<u64>,
        phase: Phase,
        failure: Failure,
    },
    /// `stopped` panicked (reported only).
    StoppedFailed {
        failure: Failure,
    },
    Send {
        to: ActorId,
        type_name: String,
        payload: Payload,
        delay: Option<Duration>,
    },
    Ask {
        to: ActorId,
        type_name: String,
        payload: Payload,
        request: u64,
        timeout: Duration,
    },
    Reply {
        asker: Asker,
        request: u64,
        payload: Payload,
    },
    Spawn {
        token: u64,
        entry: u64,
        actor: Payload,
        type_name: String,
        options: WireSpawnOptions,
    },
    Watch {
        target: ActorId,
    },
    /// The actor stopped itself (`ctx.stop`) or obeyed `Shutdown`; the process exits next.
    Stopped,
}

/// Splits a batch's bytes into frames. A frame that does not decode ends the batch with an
/// error (what follows it cannot be framed).
pub(crate) fn frames(mut bytes: &[u8]) -> impl Iterator<Item = Result<ToHost, String>> {
    std::iter::from_fn(move || {
        if bytes.is_empty() {
            return None;
        }
        match postcard::take_from_bytes::<ToHost>(bytes) {
            Ok((frame, rest)) => {
                bytes = rest;
                Some(Ok(frame))
            }
            Err(e) => {
                bytes = &[];
                Some(Err(format!("cannot decode a frame: {e}")))
            }
        }
    })
}

impl ToHost {
    /// The size of what the message carries for another actor (what the frame limit bounds).
    pub fn payload_len(&self) -> usize {
        match self {
            Self::Send { payload, .. }
            | Self::Ask { payload, .. }
            | Self::Reply { payload, .. } => payload.len(),
            Self::Spawn { actor, .. } => actor.len(),
            _ => 0,
        }
    }
}

/// [`SpawnOptions`] as they travel.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct WireSpawnOptions {
    pub name: Option<String>,
    pub capacity: Option<usize>,
    pub supervision: actor_core::Supervision,
}

impl From<&SpawnOptions> for WireSpawnOptions {
    fn from(o: &SpawnOptions) -> Self {
        Self {
            name: o.name.clone(),
            capacity: o.capacity,
            supervision: o.supervision,
        }
    }
}

impl From<WireSpawnOptions> for SpawnOptions {
    fn from(o: WireSpawnOptions) -> Self {
        let mut options = SpawnOptions::new().supervision(o.supervision);
        options.name = o.name;
        options.capacity = o.capacity;
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_out_in_order_and_garbage_ends_the_batch() {
        let mut bytes = postcard::to_stdvec(&ToHost::Started).unwrap();
        bytes.extend(postcard::to_stdvec(&ToHost::Stopped).unwrap());
        bytes.push(0xFF); // a variant tag with its continuation bit set and nothing after it
        bytes.extend(postcard::to_stdvec(&ToHost::Started).unwrap());
        let frames: Vec<_> = frames(&bytes).collect();
        assert!(matches!(frames[0], Ok(ToHost::Started)));
        assert!(matches!(frames[1], Ok(ToHost::Stopped)));
        assert!(
            frames[2]
                .as_ref()
                .is_err_and(|e| e.contains("cannot decode"))
        );
        assert_eq!(
            frames.len(),
            3,
            "nothing is read past a frame that does not decode"
        );
    }
}
