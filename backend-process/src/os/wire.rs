//! What crosses a process boundary: the messages between the host and a child, and the
//! encoding of actor state and user messages inside them (postcard).

use std::time::Duration;

use actor_core::{
    ActorId, AskError, Asker, Failure, Phase, SendFailure, Signal, SpawnError, SpawnOptions,
};
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

/// A message type, as the host checks it: 64 bits of the type's `TypeId`. A send carries this
/// rather than the type's name (about 40 bytes, which made up most of a small message's frame,
/// and cost the router an allocation, a UTF-8 check and a compare per message). `TypeId`s
/// are fixed when the binary is built, and host and children run the same binary, so a type
/// has the same key in every process. Two message types of one application whose keys agree (a
/// chance of one in 2^64 for a pair) would pass for each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct TypeKey(u64);

impl TypeKey {
    pub fn of<M: 'static>() -> Self {
        use std::hash::{Hash, Hasher};
        let mut hasher = rustc_hash::FxHasher::default();
        std::any::TypeId::of::<M>().hash(&mut hasher);
        Self(hasher.finish())
    }

    /// The key as the directory (`directory.rs`) holds it.
    pub fn bits(self) -> u64 {
        self.0
    }

    #[cfg(test)]
    pub fn from_bits(bits: u64) -> Self {
        Self(bits)
    }
}

/// The message type an actor takes: its name, for errors and reports, and its key, for checks.
pub(crate) struct MsgType {
    pub name: String,
    pub key: TypeKey,
}

impl MsgType {
    pub fn of<M: 'static>() -> Self {
        Self {
            name: std::any::type_name::<M>().to_string(),
            key: TypeKey::of::<M>(),
        }
    }
}

/// Bytes that travel as one block. Serde knows no byte strings of its own: a `&[u8]` or a
/// `Vec<u8>` goes through it one `u8` at a time, which costs more than the IPC itself for a
/// batch of thousands of messages. postcard encodes both forms the same way, so this is a
/// matter of speed only.
pub(crate) struct Bytes<'a>(pub &'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Borrowed;
        impl<'de> serde::de::Visitor<'de> for Borrowed {
            type Value = &'de [u8];
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_borrowed_bytes<E>(self, bytes: &'de [u8]) -> Result<Self::Value, E> {
                Ok(bytes)
            }
        }
        deserializer.deserialize_bytes(Borrowed).map(Bytes)
    }
}

/// [`Bytes`] read into a buffer of their own (from a reader that cannot lend them).
pub(crate) struct ByteBuf(pub Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Owned;
        impl<'de> serde::de::Visitor<'de> for Owned {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, bytes: &[u8]) -> Result<Self::Value, E> {
                Ok(bytes.to_vec())
            }
            fn visit_byte_buf<E>(self, bytes: Vec<u8>) -> Result<Self::Value, E> {
                Ok(bytes)
            }
        }
        deserializer.deserialize_byte_buf(Owned).map(ByteBuf)
    }
}

/// `#[serde(with = "bytes")]` for a `Vec<u8>` field: [`Bytes`] on the way out, [`ByteBuf`] in.
pub(crate) mod bytes {
    pub fn serialize<S: serde::Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&super::Bytes(bytes), serializer)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        <super::ByteBuf as serde::Deserialize>::deserialize(deserializer).map(|b| b.0)
    }
}

/// Payloads to a child bigger than this travel in shared memory (see [`large`]).
pub(crate) const LARGE: usize = 64 * 1024;

/// How bytes to a child are written: inline up to [`LARGE`] bytes, above that in a fresh
/// shared-memory region whose file descriptor goes with the message. ipc-channel would write a
/// big message in fragments over a channel it keeps open until the send ends, so a child that
/// died in the middle would leave the writer waiting for ever; one descriptor is never
/// fragmented. The host keeps its copy as plain bytes: the region exists only while the message
/// is written, and the child copies it out (`Vec<u8>` on both sides).
pub(crate) mod large {
    use ipc_channel::ipc::IpcSharedMemory;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{ByteBuf, Bytes};

    #[derive(Serialize)]
    enum Out<'a> {
        Inline(Bytes<'a>),
        SharedMemory(IpcSharedMemory),
    }

    /// The same shape as `Out`, read back.
    #[derive(Deserialize)]
    enum In {
        Inline(ByteBuf),
        SharedMemory(IpcSharedMemory),
    }

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        if bytes.len() > super::LARGE {
            Out::SharedMemory(IpcSharedMemory::from_bytes(bytes)).serialize(serializer)
        } else {
            Out::Inline(Bytes(bytes)).serialize(serializer)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        Ok(match In::deserialize(deserializer)? {
            In::Inline(bytes) => bytes.0,
            In::SharedMemory(memory) => memory.to_vec(),
        })
    }
}

/// A message on its way to a child, or delivered to it and not yet confirmed, as `packed.rs`
/// writes and reads it (a plain message as its own bytes, anything else encoded): its bytes are
/// borrowed, from the sender's encoding on the way in and from the packed buffer on the way
/// out, so that the child decodes the message straight from what it read. `AskOutcome` is the
/// outcome of an `ask` the actor made: the reply, or why there is none.
/// `after`: the delivery came through the host from a sender that had a direct route to the
/// receiver, and waits for that route's messages before it ([`Fence`]).
#[derive(Serialize, Deserialize)]
pub(crate) enum DeliveryRef<'a> {
    Message {
        #[serde(borrow)]
        payload: Bytes<'a>,
        ask: Option<(Asker, u64)>,
        after: Option<Fence>,
    },
    AskOutcome {
        request: u64,
        #[serde(borrow)]
        outcome: Result<Bytes<'a>, AskError>,
        after: Option<Fence>,
    },
}

/// Where a message sent through the host must wait: after the first `written` messages of
/// direct route `route` (`direct.rs`), which its sender wrote before it. Its sender no longer
/// writes to that route: once the receiver has handled them and this message, it is done with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Fence {
    pub route: u32,
    pub written: u64,
}

/// A direct route its sender's process is given: the receiver, the route, and the receiver's
/// bell (the same for each of its processes).
#[derive(Serialize, Deserialize)]
pub(crate) struct RouteGrant {
    pub to: ActorId,
    pub route: u32,
    pub msg_type: TypeKey,
    pub memory: IpcSharedMemory,
    pub bell: IpcSharedMemory,
    /// The host has heard that the sender writes to it (`ToHost::Switched`).
    pub switched: bool,
}

/// A direct route its receiver's process is given: the route, and the last delivery through
/// the host that must be begun before the route's first message (the sender's last message
/// before it switched, or one after it; 0 for none).
#[derive(Serialize, Deserialize)]
pub(crate) struct SourceGrant {
    pub route: u32,
    pub memory: IpcSharedMemory,
    pub gate: u64,
}

/// Host to child.
#[derive(Serialize, Deserialize)]
pub(crate) enum ToChild {
    /// The actor to run: where its code is (`child/entry.rs`), its initial state, its identity.
    Boot {
        entry: Entry,
        #[serde(with = "large")]
        actor: Payload,
        id: ActorId,
        clock_offset: Duration,
        request_base: u64,
        /// The host's frame limit: the child refuses bigger sends itself.
        max_frame: usize,
        /// Messages handled between two reports of progress alone, at most (see `child/mod.rs`:
        /// what handlers send leaves every 128 whatever this says). Each report is an IPC
        /// write the router reads;
        /// the host counts a message handled, and makes room in a bounded mailbox, when it
        /// hears of it, so a bounded actor reports more often.
        progress_every: usize,
        /// This process's journal (see `journal.rs`), shared with the host.
        journal: IpcSharedMemory,
        /// The ring the host writes deliveries into (see `ring.rs`), shared with the host.
        ring: IpcSharedMemory,
        /// The word this process sleeps on when it has no work (see `bell.rs`).
        bell: IpcSharedMemory,
        /// Direct routes this actor writes to, and reads from (`direct.rs`).
        routes: Vec<RouteGrant>,
        sources: Vec<SourceGrant>,
        /// The directory's pages (`directory.rs`), in order.
        directory: Vec<IpcSharedMemory>,
    },
    /// A direct route to write to, asked for with `ToHost::OpenRoute`.
    Route(RouteGrant),
    /// A direct route to read from.
    Source(SourceGrant),
    /// One delivery too big for the ring, in the place of its marker there (`ring.rs`).
    Deliver(#[serde(with = "large")] Vec<u8>),
    Signal(Signal),
    /// The supervisor's answer to a failure: start again from the initial state.
    Restart,
    /// Stop after the current message, run `stopped`, exit.
    Shutdown,
    /// The answer to a `Check`: the refusal a send from outside would get now, if any (when
    /// none and a place was asked for in a bounded mailbox, the host has taken it), and the
    /// directory's page for the receiver, if there is one.
    Checked {
        to: ActorId,
        refusal: Option<SendFailure>,
        page: Option<(u64, IpcSharedMemory)>,
    },
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
        /// How many signals this process has taken (handled, or in hand).
        signals: u64,
        #[serde(with = "bytes")]
        frames: Vec<u8>,
    },
    /// One frame too big for the journal's outbox, sent alone after the batch before it: its
    /// encoding, read as the frames of a batch are.
    Large(#[serde(with = "bytes")] Vec<u8>),
}

/// How the host names the actor type a child is to run (`os/child/entry.rs`): where that
/// type's entry record lies, as an offset from `init`, and the type's name, which the record
/// must give too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub offset: u64,
    pub actor_type: String,
}

/// A frame from a child: one thing it tells the host. Frames travel in batches ([`Uplink`]).
/// The bytes a frame carries are borrowed: on the child's side from its encoding of the
/// message, on the host's from the batch it read, so reading a message from one child for
/// another costs the router no allocation (what it then keeps or writes is copied: into the
/// receiver's packed buffers, or a delayed send into its timer).
#[derive(Serialize, Deserialize)]
pub(crate) enum ToHost<'a> {
    /// `started` has succeeded.
    Started,
    /// The process will not run the actor the host named (its entry did not check out: why);
    /// it exits next.
    Refused {
        why: String,
    },
    /// A hook failed; the child waits for `Restart` or `Shutdown`.
    Failed {
        seq: Option<u64>,
        /// The message failed on came through a direct route: the route, and its place there.
        direct: Option<(u32, u64)>,
        phase: Phase,
        failure: Failure,
    },
    /// `stopped` panicked (reported only).
    StoppedFailed {
        failure: Failure,
    },
    Send {
        to: ActorId,
        msg_type: TypeKey,
        #[serde(borrow)]
        payload: Bytes<'a>,
        delay: Option<Duration>,
        after: Option<Fence>,
    },
    Ask {
        to: ActorId,
        msg_type: TypeKey,
        #[serde(borrow)]
        payload: Bytes<'a>,
        request: u64,
        timeout: Duration,
        after: Option<Fence>,
    },
    Reply {
        asker: Asker,
        request: u64,
        #[serde(borrow)]
        payload: Bytes<'a>,
        after: Option<Fence>,
    },
    /// Plain sends to `to` are many: the sender asks for a direct route to it.
    OpenRoute {
        to: ActorId,
        msg_type: TypeKey,
    },
    /// The sender writes to direct route `route` from here on: every send it made through the
    /// host before this frame comes before the route's first message.
    Switched {
        route: u32,
    },
    /// The receiver is done with direct route `route` (its sender had fenced it off).
    RouteDone {
        route: u32,
    },
    /// The message at `place` of direct route `route` did not decode: its sender wrote bytes
    /// no message decodes from. The receiver has gone on past it.
    Undecodable {
        route: u32,
        place: u64,
        error: String,
    },
    /// Asks what the directory could not say of a send (`directory.rs`): the receiver's
    /// refusal, if any, and its page; `reserve`: take a place for the message if the mailbox
    /// is bounded and not full.
    Check {
        to: ActorId,
        msg_type: TypeKey,
        reserve: bool,
    },
    Spawn {
        token: u64,
        entry: Entry,
        #[serde(borrow)]
        actor: Bytes<'a>,
        type_name: String,
        msg_type: TypeKey,
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
pub(crate) fn frames(mut bytes: &[u8]) -> impl Iterator<Item = Result<ToHost<'_>, String>> {
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

/// Reads one frame sent alone ([`Uplink::Large`]): the bytes must hold that frame and nothing
/// more, as a batch's frames do.
pub(crate) fn decode_frame(bytes: &[u8]) -> Result<ToHost<'_>, String> {
    match postcard::take_from_bytes(bytes) {
        Ok((frame, [])) => Ok(frame),
        Ok((_, rest)) => Err(format!("{} bytes after a frame sent alone", rest.len())),
        Err(e) => Err(format!("cannot decode a frame: {e}")),
    }
}

impl ToHost<'_> {
    /// The size of what the message carries for another actor (what the frame limit bounds).
    pub fn payload_len(&self) -> usize {
        match self {
            Self::Send { payload, .. }
            | Self::Ask { payload, .. }
            | Self::Reply { payload, .. } => payload.0.len(),
            Self::Spawn { actor, .. } => actor.0.len(),
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

    #[test]
    fn a_frame_sent_alone_must_be_whole_and_alone() {
        let mut bytes = postcard::to_stdvec(&ToHost::Stopped).unwrap();
        assert!(matches!(decode_frame(&bytes), Ok(ToHost::Stopped)));
        bytes.push(0);
        assert!(decode_frame(&bytes).is_err_and(|e| e.contains("after a frame")));
        assert!(decode_frame(&[]).is_err());
    }
}
