//! Actors on threads: a shared pool for many small actors and a dedicated thread for long
//! handlers. Not yet implemented: see the project's open issue for this backend.
#![deny(missing_docs)]
