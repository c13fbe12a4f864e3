//! The storage ceiling: rows written straight into the database with diesel.

use super::*;

#[derive(Debug, Clone, Copy)]
pub enum Storage {
    /// One multi-row INSERT of N rows per transaction.
    Bulk(usize),
    /// N single-row INSERTs per transaction.
    Statements(usize),
    /// `sync_push::push` of N new records: the push's database work without HTTP and JSON.
    DirectPush(usize),
    /// Write 4 KiB and fdatasync, in the data directory (the commit cost of SQLite's WAL).
    Fsync,
}

impl Storage {
    pub fn label(self) -> String {
        match self {
            Storage::Bulk(1) => "storage, 1 row per transaction".to_owned(),
            Storage::Bulk(n) => format!("storage, bulk INSERT of {n} rows per transaction"),
            Storage::Statements(n) => format!("storage, {n} single-row INSERTs per transaction"),
            Storage::DirectPush(n) => format!("storage, sync_push::push of {n} records without HTTP"),
            Storage::Fsync => "storage, write 4 KiB + fdatasync in the data dir".to_owned(),
        }
    }

    pub fn batch(self) -> usize {
        match self {
            Storage::Bulk(n) | Storage::Statements(n) | Storage::DirectPush(n) => n,
            Storage::Fsync => 1,
        }
    }
}

pub struct StorageContext {
    pub target: DatabaseTarget,
    pub who: Who,
    pub corpus: Arc<Corpus>,
    pub data_dir: PathBuf,
}

/// Opens one connection per storage thread (before a probe starts, so that PostgreSQL backends
/// live through the whole measured phase and are counted), applying the what-if settings.
pub fn storage_connections(context: &StorageContext, threads: usize, tuned: bool) -> anyhow::Result<Vec<DbConnection>> {
    (0..threads)
        .map(|_| {
            let mut conn = context.target.connect()?;
            if tuned {
                match &mut conn {
                    DbConnection::Sqlite(sqlite) => {
                        sqlite.batch_execute("PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536;")?
                    }
                    DbConnection::Postgres(pg) => pg.batch_execute("SET synchronous_commit = off")?,
                }
            }
            Ok(conn)
        })
        .collect()
}

/// One thread per connection doing `work` as fast as it can for `duration` (and at most
/// `max_tx` transactions in all; `Fsync` uses one thread and no connection).
pub fn storage_run(
    context: &StorageContext,
    work: Storage,
    conns: &mut [DbConnection],
    duration: Duration,
    max_tx: u64,
) -> anyhow::Result<Sample> {
    let started = Instant::now();
    let deadline = started + duration;
    let done = AtomicU64::new(0);
    let results = std::thread::scope(|scope| -> anyhow::Result<Vec<(Vec<Duration>, u64, u64)>> {
        let mut handles = Vec::with_capacity(conns.len().max(1));
        let mut slots: Vec<Option<&mut DbConnection>> = conns.iter_mut().map(Some).collect();
        if let Storage::Fsync = work {
            slots = vec![None];
        }
        for (index, conn) in slots.into_iter().enumerate() {
            let done = &done;
            let handle = std::thread::Builder::new()
                .name(format!("bench-storage-{index}"))
                .spawn_scoped(scope, move || storage_thread(context, work, conn, index, deadline, done, max_tx))?;
            handles.push(handle);
        }
        handles
            .into_iter()
            .map(|handle| handle.join().map_err(|_| anyhow::anyhow!("a storage thread panicked"))?)
            .collect()
    })?;
    let mut sample = Sample { elapsed: started.elapsed(), ..Sample::default() };
    for (latencies, records, ticks) in results {
        sample.latencies.extend(latencies);
        sample.records += records;
        sample.own_ticks += ticks;
    }
    sample.latencies.sort();
    Ok(sample)
}

pub fn storage_thread(
    context: &StorageContext,
    work: Storage,
    conn: Option<&mut DbConnection>,
    index: usize,
    deadline: Instant,
    done: &AtomicU64,
    max_tx: u64,
) -> anyhow::Result<(Vec<Duration>, u64, u64)> {
    let thread_ticks =
        || std::fs::read_to_string("/proc/thread-self/stat").ok().and_then(|s| stat_ticks(&s)).unwrap_or(0);
    let ticks_before = thread_ticks();
    let mut latencies = Vec::new();
    let mut records = 0u64;
    let mut rng = 0xC0FF_EE00 + index as u64;
    if let Storage::Fsync = work {
        use std::io::Write;
        use std::os::unix::fs::FileExt;
        let path = context.data_dir.join(format!("fsync-probe-{index}"));
        let mut file = std::fs::OpenOptions::new().create(true).truncate(true).read(true).write(true).open(&path)?;
        file.write_all(&vec![0u8; 4 << 20])?;
        file.sync_all()?;
        let block = vec![0x5Au8; 4096];
        let mut offset = 0u64;
        while Instant::now() < deadline && done.fetch_add(1, Ordering::Relaxed) < max_tx {
            let start = Instant::now();
            file.write_all_at(&block, offset)?;
            file.sync_data()?;
            latencies.push(start.elapsed());
            records += 1;
            offset = (offset + 4096) % (4 << 20);
        }
        drop(file);
        std::fs::remove_file(&path)?;
        return Ok((latencies, records, thread_ticks().saturating_sub(ticks_before)));
    }
    let conn = conn.context("a storage thread without a connection")?;
    let seq = sync_state::read(conn)?.0;
    while Instant::now() < deadline && done.fetch_add(1, Ordering::Relaxed) < max_tx {
        match work {
            Storage::DirectPush(n) => {
                let created = context.corpus.values(n, &mut rng);
                let push_context = PushContext {
                    organisation_id: context.who.organisation_id.clone(),
                    user_id: context.who.user_id.clone(),
                    role: Role::Field,
                    device_id: context.who.device_id.clone(),
                    cursor: Some(seq),
                    now_ms: chrono::Utc::now().timestamp_millis(),
                    clock_skew_ms: Some(0),
                    skew_tolerance_ms: 120_000,
                    pending_count: Some(n as i64),
                    photo_rules: lagesbild::domain::attachments::PhotoRules::default(),
                };
                let tables = vec![("observations".to_owned(), TableChanges { created, ..TableChanges::default() })];
                let start = Instant::now();
                let results = sync_push::push(conn, push_context, tables)?;
                latencies.push(start.elapsed());
                let applied = results.iter().filter(|r| r.status == Status::Applied).count();
                anyhow::ensure!(applied == n, "direct push: {applied} of {n} applied");
                records += applied as u64;
            }
            Storage::Bulk(n) | Storage::Statements(n) => {
                let rows: Vec<ObservationRow> =
                    (0..n).map(|_| context.corpus.row(&context.who.template, seq, &mut rng)).collect();
                let start = Instant::now();
                lagesbild::db::write_transaction(conn, |conn| -> QueryResult<()> {
                    if let Storage::Bulk(_) = work {
                        // A multi-row INSERT needs the concrete backend (MultiConnection has none),
                        // in chunks of 500 rows as the server writes them (bound-parameter limits).
                        for rows in rows.chunks(500) {
                            match conn {
                                DbConnection::Sqlite(conn) => {
                                    diesel::insert_into(observations::table).values(rows).execute(conn)?
                                }
                                DbConnection::Postgres(conn) => {
                                    diesel::insert_into(observations::table).values(rows).execute(conn)?
                                }
                            };
                        }
                    } else {
                        for row in &rows {
                            diesel::insert_into(observations::table).values(row).execute(conn)?;
                        }
                    }
                    Ok(())
                })?;
                latencies.push(start.elapsed());
                records += n as u64;
            }
            Storage::Fsync => unreachable!("handled above"),
        }
    }
    Ok((latencies, records, thread_ticks().saturating_sub(ticks_before)))
}
