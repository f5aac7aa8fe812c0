//! The report: an aligned Markdown table for the terminal and `report.md`, one SVG bar chart
//! per workload, and JSON for machines.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;
use serde::Serialize;

use crate::backends::BackendKind;
use crate::suite::{Cell, Column, Row, SEED_T1, SEED_T4, Sizes, Stats, WorkloadKind};

/// Where the figures were measured.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// Logical CPUs available to this process.
    pub cores: usize,
    /// The CPU model, from `/proc/cpuinfo` where there is one.
    pub cpu: String,
    /// Operating system and architecture.
    pub os: String,
}

impl Machine {
    /// This machine.
    pub fn current() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        Self {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu,
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        }
    }
}

/// Everything one run of the suite measured.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The command line that produced it.
    pub command: String,
    /// Where it ran.
    pub machine: Machine,
    /// The backends measured.
    pub backends: Vec<BackendKind>,
    /// The sizes used.
    pub sizes: Sizes,
    /// One row per workload.
    pub rows: Vec<Row>,
}

/// The seed's speedup on one backend: test 1 / test 5, and that over the cores.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Speedup {
    /// The backend (or the threads baseline, test 4).
    pub column: String,
    /// Test 1's median over this column's median.
    pub speedup: f64,
    /// `speedup / cores`.
    pub efficiency: f64,
}

impl Report {
    /// The failed cells, as (workload, column, error).
    pub fn errors(&self) -> Vec<(&'static str, &'static str, &str)> {
        self.rows
            .iter()
            .flat_map(|row| {
                row.cells.iter().filter_map(move |c| {
                    c.error
                        .as_deref()
                        .map(|e| (row.workload.name(), c.column.name(), e))
                })
            })
            .collect()
    }

    /// The seed's speedups, per backend and for the threads baseline.
    pub fn speedups(&self) -> Vec<Speedup> {
        let Some(row) = self.rows.iter().find(|r| r.workload == WorkloadKind::Seed) else {
            return Vec::new();
        };
        let Some(t1) = row
            .cell(&Column::Baseline(SEED_T1))
            .and_then(|c| c.stats.as_ref())
        else {
            return Vec::new();
        };
        row.cells
            .iter()
            .filter(|c| {
                matches!(c.column, Column::Backend(_)) || c.column == Column::Baseline(SEED_T4)
            })
            .filter_map(|c| {
                let stats = c.stats.as_ref()?;
                let speedup = t1.median / stats.median;
                Some(Speedup {
                    column: c.column.name().to_string(),
                    speedup,
                    efficiency: speedup / self.machine.cores as f64,
                })
            })
            .collect()
    }

    /// The report as Markdown: the main table, the seed's tests and speedups, and errors.
    pub fn markdown(&self, charts: Option<&Path>) -> String {
        let mut out = String::new();
        let runs = self.sizes.runs;
        let _ = writeln!(
            out,
            "Machine: {} cores, {}, {}. Each figure is the median of {runs} run{} [min–max]; \
             a ratio is a backend's median over its baseline's (the first listed; ipc-channel's for the \
             process backend), measured in the same run.\n",
            self.machine.cores,
            self.machine.cpu,
            self.machine.os,
            if runs == 1 { "" } else { "s" }
        );
        let _ = writeln!(out, "{}", self.main_table());
        if let Some(seed) = self.seed_table() {
            let _ = writeln!(
                out,
                "The seed's five timing tests (n = {}):\n\n{seed}",
                self.sizes.seed_n
            );
        }
        for (workload, column, error) in self.errors() {
            let _ = writeln!(out, "FAILED: {workload} on {column}: {error}");
        }
        if let Some(dir) = charts {
            let _ = writeln!(out);
            for row in &self.rows {
                let _ = writeln!(
                    out,
                    "![{0}]({1}/{0}.svg)",
                    row.workload.name(),
                    dir.display()
                );
            }
        }
        let _ = writeln!(out, "\nCommand: `{}`", self.command);
        out
    }

    fn main_table(&self) -> String {
        let mut header = vec!["workload".to_string(), "unit".to_string()];
        header.extend(self.backends.iter().map(|b| b.name().to_string()));
        header.push("baselines".into());
        header.extend(
            self.backends
                .iter()
                .map(|b| format!("{} ÷ baseline", b.name())),
        );
        let rows = self.rows.iter().map(|row| {
            let arrow = if row.higher_is_better { "↑" } else { "↓" };
            let mut line = vec![
                row.workload.name().to_string(),
                format!("{} {arrow}", row.unit),
            ];
            line.extend(
                self.backends
                    .iter()
                    .map(|b| cell_text(row.cell(&Column::Backend(*b)))),
            );
            // The seed's other tests have a table of their own.
            let listed = if row.workload == WorkloadKind::Seed {
                1
            } else {
                usize::MAX
            };
            let baselines: Vec<String> = row
                .cells
                .iter()
                .filter(|c| matches!(c.column, Column::Baseline(_)))
                .take(listed)
                .map(|c| format!("{}: {}", c.column.name(), cell_text(Some(c))))
                .collect();
            line.push(if baselines.is_empty() {
                "–".into()
            } else {
                baselines.join("; ")
            });
            line.extend(self.backends.iter().map(|b| {
                let stats = row
                    .cell(&Column::Backend(*b))
                    .and_then(|c| c.stats.as_ref());
                let base = row.baseline_for(*b).and_then(|c| c.stats.as_ref());
                match (stats, base) {
                    (Some(s), Some(base)) => format!("{}×", number(s.median / base.median)),
                    _ => "–".into(),
                }
            }));
            line
        });
        markdown_table(&header, rows)
    }

    fn seed_table(&self) -> Option<String> {
        let row = self
            .rows
            .iter()
            .find(|r| r.workload == WorkloadKind::Seed)?;
        let header = ["test".to_string(), "time (s)".to_string()];
        let lines = row.cells.iter().map(|c| {
            let name = match &c.column {
                Column::Backend(b) => format!("test 5: 5 actors, {}", b.name()),
                Column::Baseline(name) => (*name).to_string(),
            };
            vec![name, cell_text(Some(c))]
        });
        let mut out = markdown_table(&header, lines);
        let speedups = self.speedups();
        if !speedups.is_empty() {
            let header = [
                "speedup (test 1 ÷ this)".to_string(),
                "speedup".to_string(),
                "efficiency".to_string(),
            ];
            let lines = speedups.iter().map(|s| {
                vec![
                    s.column.clone(),
                    format!("{}×", number(s.speedup)),
                    format!("{:.1}%", 100.0 * s.efficiency),
                ]
            });
            let _ = write!(out, "\n{}", markdown_table(&header, lines));
        }
        Some(out)
    }

    /// Writes one bar chart per workload into `dir` as `<workload>.svg`.
    ///
    /// # Errors
    /// A file that could not be written.
    pub fn write_charts(&self, dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
        for row in &self.rows {
            chart(row, &dir.join(format!("{}.svg", row.workload.name())))?;
        }
        Ok(())
    }
}

fn chart(row: &Row, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let bars: Vec<(&str, &Stats)> = row
        .cells
        .iter()
        .filter_map(|c| Some((c.column.name(), c.stats.as_ref()?)))
        .collect();
    let width = 160 + 130 * bars.len().max(1) as u32;
    let root = SVGBackend::new(path, (width, 360)).into_drawing_area();
    root.fill(&WHITE)?;
    let top = bars.iter().map(|(_, s)| s.max).fold(0.0, f64::max) * 1.15;
    let better = if row.higher_is_better {
        "higher is better"
    } else {
        "lower is better"
    };
    let title = format!(
        "{}: {} ({better}), median and range",
        row.workload.name(),
        row.unit
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((0..bars.len()).into_segmented(), 0.0..top.max(1e-9))?;
    let names: Vec<String> = bars.iter().map(|(n, _)| shorten(n)).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(bars.len())
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .y_desc(row.unit)
        .draw()?;
    chart.draw_series(bars.iter().enumerate().map(|(i, (name, s))| {
        let color = if BackendKind::ALL.iter().any(|b| b.name() == *name) {
            BLUE
        } else {
            RGBColor(150, 150, 150)
        };
        let mut bar = Rectangle::new(
            [
                (SegmentValue::Exact(i), 0.0),
                (SegmentValue::Exact(i + 1), s.median),
            ],
            color.filled(),
        );
        bar.set_margin(0, 0, 12, 12);
        bar
    }))?;
    chart.draw_series(bars.iter().enumerate().map(|(i, (_, s))| {
        ErrorBar::new_vertical(
            SegmentValue::CenterOf(i),
            s.min,
            s.median,
            s.max,
            BLACK.filled(),
            10,
        )
    }))?;
    root.present()?;
    Ok(())
}

fn shorten(name: &str) -> String {
    name.split(':').next().unwrap_or(name).to_string()
}

/// A figure with about three significant digits.
pub fn number(x: f64) -> String {
    match x.abs() {
        a if a >= 100.0 => format!("{x:.0}"),
        a if a >= 10.0 => format!("{x:.1}"),
        a if a >= 0.1 => format!("{x:.2}"),
        _ => format!("{x:.3}"),
    }
}

fn cell_text(cell: Option<&Cell>) -> String {
    match cell {
        None => "–".into(),
        Some(Cell { error: Some(_), .. }) => "FAILED".into(),
        Some(Cell { stats: Some(s), .. }) if s.runs > 1 => {
            format!("{} [{}–{}]", number(s.median), number(s.min), number(s.max))
        }
        Some(Cell { stats: Some(s), .. }) => number(s.median),
        Some(_) => "–".into(),
    }
}

/// A Markdown table with its columns padded, so it reads in a terminal too.
fn markdown_table(header: &[String], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows.collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(header);
    out.push_str(&line(
        &widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(),
    ));
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}
