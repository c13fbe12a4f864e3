//! What a benchmark ran on: the machine and the PostgreSQL settings that bound its figures.

use diesel::prelude::*;

/// "2 cores, Intel(R) Xeon(R) Processor, 23.5 GiB RAM; load average at start: 0.10 0.20 0.30".
pub fn describe() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name").map(|rest| rest.trim_start_matches([' ', '\t', ':'])))
        .unwrap_or("unknown");
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .map_or_else(|| "unknown".to_owned(), |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    format!("{cores} cores, {model}, {memory} RAM; load average at start: {load}")
}

/// The PostgreSQL settings that bound commit throughput, as `name=value, …`.
pub fn postgres_settings(conn: &mut diesel::PgConnection) -> QueryResult<String> {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        setting: String,
    }
    let rows: Vec<Setting> = diesel::sql_query(
        "SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'synchronous_commit', 'fsync', \
         'wal_sync_method', 'commit_delay', 'commit_siblings', 'shared_buffers', 'max_connections', \
         'full_page_writes') ORDER BY name",
    )
    .load(conn)?;
    Ok(rows.iter().map(|r| format!("{}={}", r.name, r.setting)).collect::<Vec<_>>().join(", "))
}
