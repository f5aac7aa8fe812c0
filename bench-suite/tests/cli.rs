//! The command line: `--quick` runs every workload and checks every result; bad input is a
//! one-line error and a non-zero exit, never a panic.

use std::process::{Command, Output};

fn bench_suite(args: &[&str]) -> Output {
    let out = std::env::temp_dir().join(format!("bench-suite-test-{}", std::process::id()));
    Command::new(env!("CARGO_BIN_EXE_bench-suite"))
        .args(args)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn quick_run_reports_every_workload_and_writes_the_files() {
    let output = bench_suite(&["--quick"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for workload in [
        "seed",
        "ping-pong",
        "fan-in",
        "counting",
        "spawn-stop",
        "thread-ring",
        "fork-join",
    ] {
        assert!(
            stdout.contains(&format!("| {workload} ")),
            "no row for {workload}:\n{stdout}"
        );
    }
    assert!(stdout.contains("test 3: child process, n/5"), "{stdout}");
    assert!(
        stdout.contains("ipc-channel, 2 processes: "),
        "the bare ipc round trip: {stdout}"
    );
    assert!(
        stdout.contains("ipc-channel, 2 processes, 64 per send: "),
        "{stdout}"
    );
    assert!(!stdout.contains("FAILED"), "{stdout}");
    let dir = std::env::temp_dir().join(format!("bench-suite-test-{}", std::process::id()));
    let markdown = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(markdown.contains("ping-pong.svg"));
    let svg = std::fs::read_to_string(dir.join("ping-pong.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("ping-pong"),
        "{svg}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn json_output_parses() {
    let output = bench_suite(&["--quick", "--json", "--workloads", "ping-pong,counting"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    assert_eq!(json["rows"].as_array().map(Vec::len), Some(2));
    assert!(
        json["rows"][0]["cells"][0]["stats"]["median"]
            .as_f64()
            .is_some_and(|m| m > 0.0)
    );
}

#[test]
fn bad_input_is_a_one_line_error_and_a_non_zero_exit() {
    for (args, expected) in [
        (&["--workloads", "nope"][..], "invalid value 'nope'"),
        (&["--backends", "nope"][..], "invalid value 'nope'"),
        (&["--runs", "0"][..], "--runs must be at least 1"),
        (&["--n", "0"][..], "--n must be at least 5"),
    ] {
        let output = bench_suite(args);
        assert!(!output.status.success(), "{args:?} succeeded");
        let err = stderr(&output);
        assert!(
            err.lines()
                .next()
                .is_some_and(|l| l.starts_with("error:") && l.contains(expected)),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_backend_not_compiled_in_is_an_error() {
    let missing = ["thread", "process"].into_iter().find(|b| {
        !bench_suite::backends::BackendKind::compiled()
            .iter()
            .any(|k| k.name() == *b)
    });
    if let Some(backend) = missing {
        let output = bench_suite(&["--quick", "--backends", backend]);
        assert_eq!(output.status.code(), Some(2));
        assert!(stderr(&output).contains(&format!("backend `{backend}` is not compiled in")));
    }
}

#[test]
fn count_down_child_mode_prints_the_steps() {
    let output = Command::new(env!("CARGO_BIN_EXE_bench-suite"))
        .args(["count-down", "12345"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "12345");
}
