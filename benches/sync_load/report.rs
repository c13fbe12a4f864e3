//! Reporting: the rows of the results table, the machine and the verdicts.

use super::*;

/// One line of the final table.
pub struct Row {
    pub scenario: String,
    pub backend: &'static str,
    pub devices: String,
    pub batch: String,
    pub requests: usize,
    pub records_per_s: f64,
    pub requests_per_s: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub errors: u64,
    pub target: String,
    pub cpu: CpuUse,
    pub syscalls: Option<Syscalls>,
}

impl Row {
    pub fn new(
        scenario: String,
        backend: Backend,
        (devices, batch): (String, String),
        sample: &Sample,
        measured: Measured,
    ) -> Self {
        let seconds = sample.elapsed.as_secs_f64().max(1e-9);
        let l = &sample.latencies;
        Self {
            scenario,
            backend: backend.name(),
            devices,
            batch,
            requests: l.len(),
            records_per_s: sample.records as f64 / seconds,
            requests_per_s: l.len() as f64 / seconds,
            p50: pct(l, 50.0),
            p95: pct(l, 95.0),
            p99: pct(l, 99.0),
            max: pct(l, 100.0),
            errors: sample.error_count(),
            target: String::new(),
            cpu: measured.cpu,
            syscalls: measured.syscalls,
        }
    }

    /// A syscall count per request of this row, if counted.
    pub fn per_request(&self, count: impl Fn(&Syscalls) -> Option<u64>) -> String {
        match self.syscalls.as_ref().and_then(count) {
            Some(n) if self.requests > 0 => format!("{:.2}", n as f64 / self.requests as f64),
            _ => "–".to_owned(),
        }
    }
}

/// One encoding of the first sync.
pub struct FirstSyncRow {
    pub backend: &'static str,
    pub encoding: &'static str,
    pub runs: usize,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub bytes: u64,
    pub observations: usize,
    pub reference: usize,
    pub check: String,
}

#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub first_sync: Vec<FirstSyncRow>,
    pub notes: Vec<String>,
    pub errors: Vec<String>,
}

pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

pub fn print_machine() {
    println!("# sync_load\n");
    println!("machine: {}; pid {}", super::machine::describe(), std::process::id());
}

pub fn print_report(report: &Report) {
    println!("\n## results\n");
    println!(
        "| scenario | backend | devices | batch | requests | records/s | requests/s | p50 ms | p95 ms | p99 ms | max ms | errors | target |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &report.rows {
        println!(
            "| {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |",
            r.scenario,
            r.backend,
            r.devices,
            r.batch,
            r.requests,
            r.records_per_s,
            r.requests_per_s,
            r.p50,
            r.p95,
            r.p99,
            r.max,
            r.errors,
            r.target
        );
    }
    if !report.first_sync.is_empty() {
        println!("\n## first sync (one page, limit=10000, wall time until the last byte)\n");
        println!(
            "| backend | encoding | runs | median ms | min ms | max ms | bytes on the wire | observations | reference rows | target |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for r in &report.first_sync {
            println!(
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {} ({:.1} KB) | {} | {} | {} |",
                r.backend,
                r.encoding,
                r.runs,
                r.median_ms,
                r.min_ms,
                r.max_ms,
                r.bytes,
                r.bytes as f64 / 1000.0,
                r.observations,
                r.reference,
                r.check
            );
        }
    }
    println!(
        "\n## CPU (cores; 1.0 = one core for the whole phase) and syscalls per request (per transaction for storage)\n"
    );
    println!(
        "| scenario | backend | devices | server HTTP | server DB threads | client | storage threads | other in process | postgres | machine busy | iowait | other processes | sleeps/req | fsyncs/req | postgres fsyncs/req |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &report.rows {
        let c = &r.cpu;
        println!(
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} / {:.0} | {:.2} | {:.2} | {} | {} | {} |",
            r.scenario,
            r.backend,
            r.devices,
            c.server_http,
            c.server_db,
            c.client,
            c.storage,
            c.other_in_process,
            c.postgres,
            c.machine_busy,
            c.cores,
            c.machine_iowait,
            c.outside,
            r.per_request(|s| s.sleeps),
            r.per_request(|s| s.fsyncs),
            r.per_request(|s| s.postgres_fsyncs)
        );
    }
    if !report.notes.is_empty() {
        println!("\n## notes\n");
        for note in &report.notes {
            println!("- {note}");
        }
    }
    if !report.errors.is_empty() {
        println!("\n## answers other than success\n");
        for error in &report.errors {
            println!("- {error}");
        }
    }
}
