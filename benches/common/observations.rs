//! Stored observations written straight into a SQLite database, shaped as the server stores
//! them, for the benches that need many of them. One place names the columns, so a schema
//! change edits one statement.
#![allow(dead_code, reason = "each bench that includes this module uses a part of it")]

use diesel::SqliteConnection;
use diesel::connection::SimpleConnection;

/// One stored observation. The columns not named here take the same value in every row: age
/// band 13–15, accuracy 10 m, status new, not redacted, not corrected, no follow-up, device `d`.
pub struct Row<'a> {
    pub organisation: &'a str,
    /// The number the row's id is made of.
    pub n: usize,
    pub user: &'a str,
    pub category: &'a str,
    pub severity: u32,
    pub perceived_safety: u32,
    pub people_count: u32,
    pub note: &'a str,
    pub lat: f64,
    pub lon: f64,
    pub observed_at: i64,
    pub area_code: String,
    pub cell: String,
    /// When the server stored it (`created_at`, `updated_at`).
    pub stored_at: i64,
    /// Its sequence number (created, content, review and server).
    pub seq: i64,
}

impl Row<'_> {
    /// Appends the row's `(…)` to a multi-row INSERT.
    fn write(&self, sql: &mut String) {
        let Row { organisation, n, user, category, note, lat, lon, area_code, cell, .. } = self;
        let (at, stored, seq) = (self.observed_at, self.stored_at, self.seq);
        sql.push_str(&format!(
            "('{organisation}','0193e000-0000-7000-8000-{n:012}','{user}','d','{category}',{},{},{},'13_15','{note}',\
             {lat},{lon},10,{at},{at},0,0,'new','{area_code}','{cell}',0,{stored},{stored},{seq},{seq},{seq},{seq},'d')",
            self.severity, self.perceived_safety, self.people_count,
        ));
    }
}

const INSERT: &str = "INSERT INTO observations (organisation_id, id, user_id, device_id, category, severity, \
     perceived_safety, people_count, age_band, note, lat, lon, accuracy_m, observed_at, observed_at_device, \
     clock_corrected, needs_follow_up, status, area_code, cell, redacted, created_at, updated_at, created_seq, \
     content_seq, review_seq, server_seq, content_device_id) VALUES ";

/// Inserts rows `0..rows`, as `row` makes them, 1,000 to an INSERT and 100,000 to a transaction.
pub fn insert<'a>(
    conn: &mut SqliteConnection,
    rows: usize,
    mut row: impl FnMut(usize) -> Row<'a>,
) -> anyhow::Result<()> {
    let mut done = 0;
    while done < rows {
        let mut sql = String::from("BEGIN;");
        for _ in 0..100 {
            if done >= rows {
                break;
            }
            sql.push_str(INSERT);
            let batch = 1_000.min(rows - done);
            for i in 0..batch {
                if i > 0 {
                    sql.push(',');
                }
                row(done + i).write(&mut sql);
            }
            sql.push(';');
            done += batch;
        }
        sql.push_str("COMMIT;");
        conn.batch_execute(&sql)?;
    }
    Ok(())
}

/// The benches' reproducible pseudo-random numbers (a 64-bit linear congruential generator).
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A number in `0..modulo`.
    pub fn below(&mut self, modulo: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % modulo
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        self.below(1 << 30) as f64 / f64::from(1u32 << 30)
    }
}
