//! Actor identities and the handles actor code holds: [`ActorId`], [`Addr`], [`ReplyTo`].
//!
//! These are plain data (an id, a request number) so that they can be stored in actor state and
//! carried inside messages on every backend, across processes included. The running backend
//! resolves an id to a mailbox when a message is sent.

use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

/// The identity of one actor within one system. A restarted actor keeps its id.
///
/// # Example
/// ```
/// use actor_core::ActorId;
/// assert_eq!(ActorId::new(7).to_string(), "#7");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ActorId(u64);

impl ActorId {
    /// Makes an id from its number. Backends hand out ids; application code gets them from
    /// [`Addr::id`].
    pub const fn new(n: u64) -> Self {
        Self(n)
    }

    /// The id's number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What any handle to an actor that takes messages of type `M` provides.
///
/// [`Addr`] is the backend-neutral implementation that actor code stores and sends; a backend may
/// implement it for handles of its own. Every `send` in [`Context`](crate::Context) and
/// [`Backend`](crate::Backend) accepts any `ActorRef`.
pub trait ActorRef<M>: Clone + Send + Sync + 'static {
    /// The id of the actor this handle points to.
    fn id(&self) -> ActorId;

    /// The backend-neutral address of that actor.
    fn addr(&self) -> Addr<M> {
        Addr::from_id(self.id())
    }
}

/// The address of an actor that takes messages of type `M`: what actor code keeps and passes on.
///
/// An `Addr` is an [`ActorId`] with the message type attached. It is `Send`, `Sync`, `Clone` and
/// serializable whatever `M` is, so it can live in actor state and travel inside messages, to
/// another process included. An `Addr` taken before a restart still reaches the restarted actor.
///
/// # Example
/// ```
/// use actor_core::{ActorId, ActorRef, Addr};
/// let a: Addr<String> = Addr::from_id(ActorId::new(3));
/// let b = a.clone();
/// assert_eq!(b.id(), ActorId::new(3));
/// ```
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
pub struct Addr<M> {
    id: ActorId,
    #[serde(skip)]
    _msg: PhantomData<fn() -> M>,
}

impl<M> Addr<M> {
    /// The address of the actor with this id. Sending through it fails with
    /// [`SendFailure::UnknownActor`](crate::SendFailure::UnknownActor) if the running system has
    /// no such actor, and with [`SendFailure::WrongType`](crate::SendFailure::WrongType) if that
    /// actor takes another message type.
    pub const fn from_id(id: ActorId) -> Self {
        Self {
            id,
            _msg: PhantomData,
        }
    }
}

impl<M: 'static> ActorRef<M> for Addr<M> {
    fn id(&self) -> ActorId {
        self.id
    }

    fn addr(&self) -> Addr<M> {
        *self
    }
}

impl<M> Clone for Addr<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for Addr<M> {}

impl<M> PartialEq for Addr<M> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<M> Eq for Addr<M> {}

impl<M> fmt::Debug for Addr<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Addr({})", self.id)
    }
}

/// Where an `ask` is waiting for its reply: an actor, or a caller outside any actor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Asker {
    /// An actor asked from inside a handler; the reply comes back to it as a message.
    Actor(ActorId),
    /// Code outside any actor asked through the [`Backend`](crate::Backend) and is waiting.
    External,
}

/// The one-time handle a request carries so that its receiver can reply, typed by the reply.
///
/// It is built by `ask` and moved into the request message; the receiver passes it to
/// [`Context::reply`](crate::Context::reply). It is serializable, so a reply can come from
/// another process, or from another actor the request was forwarded to. It can be cloned (actor
/// state that holds one must be `Clone`), but only the first reply counts: later ones are
/// dropped and counted as late replies.
#[derive(Serialize, Deserialize)]
pub struct ReplyTo<R> {
    asker: Asker,
    request: u64,
    #[serde(skip)]
    _reply: PhantomData<fn() -> R>,
}

impl<R> ReplyTo<R> {
    /// Made by backends when they issue a request; `request` is unique within the system.
    pub const fn new(asker: Asker, request: u64) -> Self {
        Self {
            asker,
            request,
            _reply: PhantomData,
        }
    }

    /// Who is waiting for the reply.
    pub const fn asker(&self) -> Asker {
        self.asker
    }

    /// The request number the backend matches the reply with.
    pub const fn request(&self) -> u64 {
        self.request
    }
}

impl<R> Clone for ReplyTo<R> {
    fn clone(&self) -> Self {
        Self::new(self.asker, self.request)
    }
}

impl<R> fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplyTo({:?}, request {})", self.asker, self.request)
    }
}
