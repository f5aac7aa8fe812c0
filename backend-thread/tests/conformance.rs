//! The whole conformance suite, on the thread backend.

use backend_thread::ThreadSystem;

actor_core::conformance_tests!(|_seed| ThreadSystem::new().expect("a thread system starts"));
