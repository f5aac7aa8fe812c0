//! Running an actor's hook so that a panic or an `Err` becomes a [`Failure`] of that actor,
//! with the phase it happened in, never a failure of the system.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::actor::ActorError;
use crate::supervision::{Failure, Phase};

/// A hook that failed: where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caught {
    /// The hook that failed.
    pub phase: Phase,
    /// A panic's message or the error returned.
    pub failure: Failure,
}

/// Runs one hook of an actor (`started`, `handle`, `signal`) and catches what it does wrong: a
/// panic becomes [`Failure::Panic`] with its message, an `Err` the failure it carries.
///
/// The hook is run as if unwind-safe: after a caught failure the backend throws the actor's
/// state away (a restart starts from a clone of the initial state), so no broken invariant of
/// it is ever seen again.
///
/// # Errors
/// The [`Caught`] failure, with `phase`.
///
/// # Example
/// ```
/// use actor_core::{ActorError, Failure, Phase};
/// use actor_core::kernel::catch;
/// let caught = catch(Phase::Handle, || -> Result<(), ActorError> { panic!("boom") }).unwrap_err();
/// assert_eq!((caught.phase, caught.failure), (Phase::Handle, Failure::Panic("boom".into())));
/// assert_eq!(catch(Phase::Started, || Ok::<_, ActorError>(7)), Ok(7));
/// ```
pub fn catch<T>(phase: Phase, hook: impl FnOnce() -> Result<T, ActorError>) -> Result<T, Caught> {
    match catch_unwind(AssertUnwindSafe(hook)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(Caught {
            phase,
            failure: error.into_failure(),
        }),
        Err(payload) => Err(Caught {
            phase,
            failure: failure_of_panic(payload.as_ref()),
        }),
    }
}

/// Runs an actor's `stopped` hook, which returns nothing: only a panic can fail it.
///
/// # Errors
/// The panic, as a [`Caught`] in [`Phase::Stopped`].
///
/// # Example
/// ```
/// use actor_core::Phase;
/// use actor_core::kernel::catch_stopped;
/// assert_eq!(catch_stopped(|| panic!("late")).unwrap_err().phase, Phase::Stopped);
/// ```
pub fn catch_stopped(hook: impl FnOnce()) -> Result<(), Caught> {
    catch(Phase::Stopped, || {
        hook();
        Ok(())
    })
}

/// The failure a caught panic stands for, with the panic's message when it has one.
///
/// # Example
/// ```
/// use actor_core::Failure;
/// use actor_core::kernel::failure_of_panic;
/// let payload = std::panic::catch_unwind(|| panic!("boom")).unwrap_err();
/// assert_eq!(failure_of_panic(payload.as_ref()), Failure::Panic("boom".into()));
/// ```
pub fn failure_of_panic(payload: &(dyn Any + Send)) -> Failure {
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    };
    Failure::Panic(message)
}
