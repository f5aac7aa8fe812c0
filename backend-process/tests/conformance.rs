//! The whole conformance suite, on the process backend: every actor in a process of its own.

use backend_process::ProcessSystem;

backend_process::process_test_support!();

actor_core::conformance_tests!(|_seed| ProcessSystem::new().expect("a process system starts"));
