//! `bench-suite`: runs identical workloads through every backend compiled in, next to the bare
//! baselines, and prints the side-by-side report (also written as Markdown and SVG).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bench_suite::backends::BackendKind;
use bench_suite::baselines::calibrate_seed_n;
use bench_suite::ipc::{PeerMode, run_peer};
use bench_suite::report::{Machine, Report};
use bench_suite::suite::{Sizes, WorkloadKind, measure, run_count};
use bench_suite::workloads::seed::count_down;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

/// Runs the same actor workloads on every backend and reports them side by side.
#[derive(Parser, Debug)]
#[command(name = "bench-suite", version, about)]
struct Cli {
    /// A run of a few seconds with small sizes: checks every result (used in CI); its times mean
    /// little.
    #[arg(long)]
    quick: bool,
    /// Workloads to run, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    workloads: Vec<WorkloadKind>,
    /// Backends to run, comma-separated (default: every one compiled in).
    #[arg(long, value_delimiter = ',')]
    backends: Vec<BackendKind>,
    /// Runs per workload and column (default: 3, or 1 with --quick).
    #[arg(long)]
    runs: Option<usize>,
    /// The seed workload's n (default: calibrated so test 1 takes about 4 s).
    #[arg(long)]
    n: Option<u64>,
    /// Print the report as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Where report.md and the SVG charts go (default: `bench-report` in the target directory).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Hidden>,
}

#[derive(Subcommand, Debug)]
enum Hidden {
    /// The other process of the bare ipc-channel baselines.
    #[command(hide = true)]
    IpcPeer {
        /// The parent's one-shot server name.
        server: String,
        /// Echo or count.
        mode: PeerMode,
        /// How many numbers to count before answering.
        expected: u64,
    },
    /// Counts down n and prints the steps: the seed's test 3 runs this in a child process.
    #[command(hide = true)]
    CountDown {
        /// How far to count down.
        n: u64,
    },
}

fn main() -> ExitCode {
    // The process backend's actors are re-executions of this binary: this turns one into its
    // actor and never returns there.
    #[cfg(feature = "process")]
    backend_process::init();
    let cli = Cli::parse();
    match cli.command {
        Some(Hidden::CountDown { n }) => {
            println!("{}", count_down(n));
            return ExitCode::SUCCESS;
        }
        Some(Hidden::IpcPeer {
            server,
            mode,
            expected,
        }) => {
            return match run_peer(&server, mode, expected) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: ipc peer: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        None => {}
    }
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    let backends = if cli.backends.is_empty() {
        BackendKind::compiled()
    } else {
        cli.backends.clone()
    };
    if let Some(missing) = backends.iter().find(|b| !b.is_compiled()) {
        return Err(format!(
            "backend `{0}` is not compiled in (build with `--features {0}`)",
            missing.name()
        ));
    }
    let workloads = if cli.workloads.is_empty() {
        WorkloadKind::ALL.to_vec()
    } else {
        cli.workloads.clone()
    };
    if cli.runs == Some(0) {
        return Err("--runs must be at least 1".into());
    }
    if cli.n.is_some_and(|n| n < 5) {
        return Err("--n must be at least 5 (it is split over 5 actors)".into());
    }
    let mut sizes = if cli.quick {
        Sizes::quick()
    } else {
        let n = match cli.n {
            Some(n) => n,
            None if workloads.contains(&WorkloadKind::Seed) => {
                calibrate_seed_n(Duration::from_secs(4))
            }
            None => Sizes::quick().seed_n,
        };
        Sizes::full(n)
    };
    if let Some(n) = cli.n {
        sizes.seed_n = n;
    }
    if let Some(runs) = cli.runs {
        sizes.runs = runs;
    }

    let progress = ProgressBar::new(run_count(&workloads, &backends, &sizes));
    progress.set_style(
        ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {msg}")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    let rows = measure(&workloads, &backends, &sizes, |workload, column, run| {
        progress.set_message(format!(
            "{} on {} (run {})",
            workload.name(),
            column.name(),
            run + 1
        ));
        progress.inc(1);
    });
    progress.finish_and_clear();

    let report = Report {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        machine: Machine::current(),
        backends,
        sizes,
        rows,
    };
    let out = cli.out.unwrap_or_else(default_out_dir);
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    report
        .write_charts(&out)
        .map_err(|e| format!("cannot write the charts: {e}"))?;
    let markdown = report.markdown(Some(std::path::Path::new(".")));
    std::fs::write(out.join("report.md"), &markdown)
        .map_err(|e| format!("cannot write report.md: {e}"))?;
    if cli.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        println!("{}", report.markdown(None));
        println!("Report and charts written to {}", out.display());
    }
    if report.errors().is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "error: {} workload run(s) failed; no time is reported for them",
            report.errors().len()
        );
        Ok(ExitCode::FAILURE)
    }
}

/// `<target>/bench-report`, found from this executable's place in `<target>/<profile>/`.
fn default_out_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("bench-report")))
        .unwrap_or_else(|| PathBuf::from("bench-report"))
}
