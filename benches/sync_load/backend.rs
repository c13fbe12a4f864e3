//! One backend: its server, its scenarios in order, and what its database looks like.

use super::*;

pub async fn run_backend(config: &Config, backend: Backend, report: &mut Report) -> anyhow::Result<()> {
    let data_dir = tempfile::Builder::new().prefix("lagesbild-sync-load-").tempdir()?;
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse()?,
        data_dir: data_dir.path().to_owned(),
        jwt_secret: Some(secret(SIGNING_KEY)?),
        // Logins are not measured: cheap hashing, limits out of the way, tokens that outlive the run.
        argon2_memory_kib: 1024,
        argon2_iterations: 1,
        argon2_parallelism: 1,
        login_attempts_per_account: 1_000_000,
        login_attempts_per_address: 1_000_000,
        access_token_ttl_secs: 4 * 3600,
        ..Settings::default()
    };
    let postgres = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let database =
                super::scratch_postgres::ScratchDatabase::create(&config.postgres_url, "lagesbild_sync_load")?;
            settings.database_url = Some(secret(&database.url)?);
            Some(database)
        }
    };
    let target = DatabaseTarget::from_settings(&settings)?;
    let application = Application::build(settings.clone())?;
    let base = format!("http://127.0.0.1:{}", application.port());
    let server = tokio::spawn(application.run_until_stopped());
    let result = load_backend(config, backend, &settings, &target, &base, data_dir.path(), report).await;
    server.abort();
    let _ = server.await;
    // Give the stopped workers a moment to close their connections before the database goes.
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(postgres);
    result
}

pub fn describe_database(target: &DatabaseTarget) -> anyhow::Result<String> {
    match target.connect()? {
        DbConnection::Sqlite(_) => {
            Ok("SQLite (bundled), journal_mode=WAL, synchronous=FULL, busy_timeout=10000, pool 8".to_owned())
        }
        DbConnection::Postgres(mut pg) => {
            Ok(format!("PostgreSQL at 127.0.0.1, pool 16; {}", super::machine::postgres_settings(&mut pg)?))
        }
    }
}

pub fn database_size(target: &DatabaseTarget, data_dir: &Path) -> String {
    #[derive(QueryableByName)]
    struct Size {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        bytes: i64,
    }
    let rows = target
        .connect()
        .ok()
        .and_then(|mut conn| observations::table.count().get_result::<i64>(&mut conn).ok())
        .map_or_else(|| "?".to_owned(), |n| n.to_string());
    let bytes = match target {
        DatabaseTarget::Sqlite(_) => std::fs::read_dir(data_dir)
            .map(|entries| entries.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum::<u64>())
            .unwrap_or(0),
        DatabaseTarget::Postgres(url) => lagesbild::db::connect_postgres(url)
            .ok()
            .and_then(|mut pg| {
                diesel::sql_query("SELECT pg_database_size(current_database()) AS bytes")
                    .get_result::<Size>(&mut pg)
                    .ok()
            })
            .map_or(0, |size| size.bytes.max(0) as u64),
    };
    format!("{rows} observation rows, {:.0} MB on disk", bytes as f64 / 1e6)
}

pub async fn load_backend(
    config: &Config,
    backend: Backend,
    settings: &Settings,
    target: &DatabaseTarget,
    base: &str,
    data_dir: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    println!("\n## {} — {}", backend.name(), describe_database(target)?);
    println!(
        "server: Application::build on {base}, workers {}, measured {} s per phase after {} s warm-up",
        settings.workers.map_or_else(|| "default (one per core)".to_owned(), |w| w.to_string()),
        config.measure.as_secs_f64(),
        config.warmup.as_secs_f64()
    );
    let perf = config.perf && perf_usable();
    println!(
        "syscall counts: {}",
        if perf { "perf stat on this process (and the postgres processes)" } else { "off (perf stat not usable here)" }
    );
    let seeded = seed(target, config.users, ORGANISATION)?;
    let bench = Bench { client: client()?, base: base.to_owned(), organisation: ORGANISATION.to_owned() };

    // Log in every device, each on a user (several devices per user), and pull once, as an app does
    // before its first push.
    let started = Instant::now();
    let mut devices = Vec::new();
    let mut categories: Vec<String> = Vec::new();
    for index in 0..config.devices() {
        let user = &seeded.users[index % seeded.users.len()];
        let token = bench.login(user, &format!("phone-{index:04}")).await?;
        let (body, cursor) = bench.first_pull(&token).await?;
        if categories.is_empty() {
            categories = body["changes"]["categories"]["created"]
                .as_array()
                .map(|list| list.iter().filter_map(|c| c["slug"].as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
        }
        devices.push(Device { token, cursor });
    }
    anyhow::ensure!(!categories.is_empty(), "the organisation has no categories");
    eprintln!(
        "{}: {} devices logged in and pulled in {:.1} s",
        backend.name(),
        devices.len(),
        started.elapsed().as_secs_f64()
    );
    let corpus = Arc::new(Corpus::new(&categories, 4096, 0x5EED));
    let load = Load { client: bench.client.clone(), devices: Arc::new(devices), corpus: corpus.clone() };

    // The HTTP ceiling: a bare actix-web server in this process, default workers.
    let bare = actix_web::HttpServer::new(|| {
        actix_web::App::new()
            .app_data(actix_web::web::PayloadConfig::new(8 * 1024 * 1024))
            .route("/push", actix_web::web::post().to(bare_handler))
    })
    .bind(("127.0.0.1", 0))?;
    let bare_url = format!("http://127.0.0.1:{}/push", bare.addrs().first().context("no address")?.port());
    let bare = bare.run();
    let bare_handle = bare.handle();
    tokio::spawn(bare);
    let bare = Endpoint::Bare { url: bare_url };
    let push = Endpoint::Push { base: base.to_owned() };

    let (push_target, single_target) = match backend {
        Backend::Sqlite => (50_000.0, 5_000.0),
        Backend::Postgres => (20_000.0, 5_000.0),
    };
    let phases: Vec<(Scenario, &str, Shape, Option<Duration>, String)> = vec![
        (Scenario::Batch, "1 batched push", config.batch, None, format!("≥ {push_target:.0} records/s")),
        (Scenario::Single, "2 one record per push", config.single, None, format!("≥ {single_target:.0} records/s")),
        (Scenario::Many, "3 many devices, back to back", config.many, None, "p99 ≤ 50 ms".to_owned()),
        (Scenario::Paced, "3b many devices, paced", config.many, Some(config.paced_interval), "p99 ≤ 50 ms".to_owned()),
    ];
    let shape_text = |shape: Shape| (shape.devices.to_string(), shape.batch.to_string());
    for (scenario, label, shape, pace, target_text) in phases {
        if !config.runs(scenario) {
            continue;
        }
        if pace.is_none() && config.runs(Scenario::Http) {
            let name = format!("baseline: HTTP ceiling, loop of {} on a bare handler", &label[..1]);
            eprintln!("{}: {name}", backend.name());
            load.run(&bare, shape, None, config.warmup, config.max_requests).await;
            let probe = Probe::start(config.measure, perf, backend);
            let sample = load.run(&bare, shape, None, config.measure, config.max_requests).await;
            let measured = probe.finish(&sample);
            collect_errors(report, &name, backend, &sample);
            let mut row = Row::new(name, backend, shape_text(shape), &sample, measured);
            row.target = "baseline".to_owned();
            report.rows.push(row);
        }
        let name = match pace {
            Some(interval) => format!(
                "{label} (each device every {} ms: {:.0} pushes/s offered)",
                interval.as_millis(),
                shape.devices as f64 / interval.as_secs_f64()
            ),
            None => label.to_owned(),
        };
        eprintln!("{}: {name}", backend.name());
        if pace.is_none() {
            load.run(&push, shape, None, config.warmup, config.max_requests).await;
        }
        let probe = Probe::start(config.measure, perf, backend);
        let sample = load.run(&push, shape, pace, config.measure, config.max_requests).await;
        let measured = probe.finish(&sample);
        collect_errors(report, &name, backend, &sample);
        let mut row = Row::new(name, backend, shape_text(shape), &sample, measured);
        row.target = match scenario {
            Scenario::Batch | Scenario::Single => {
                let goal = if scenario == Scenario::Batch { push_target } else { single_target };
                format!("{target_text}: {}", verdict(row.records_per_s >= goal && row.errors == 0))
            }
            _ => format!("{target_text}: {}", verdict(row.p99 <= 50.0 && row.errors == 0)),
        };
        println!(
            "{} | {} | {:.0} records/s, {:.0} pushes/s, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, {} errors | \
             sleeps/push {}, fsyncs/push {}, postgres fsyncs/push {} | CPU: {}",
            row.scenario,
            row.backend,
            row.records_per_s,
            row.requests_per_s,
            row.p50,
            row.p95,
            row.p99,
            row.errors,
            row.per_request(|s| s.sleeps),
            row.per_request(|s| s.fsyncs),
            row.per_request(|s| s.postgres_fsyncs),
            row.cpu
        );
        report.rows.push(row);
    }
    bare_handle.stop(false).await;

    if config.runs(Scenario::Areas) {
        eprintln!("{}: areas", backend.name());
        let plain =
            Bench { client: bench.client.clone(), base: base.to_owned(), organisation: ORGANISATION.to_owned() };
        if let Err(error) = areas_comparison(config, backend, target, &plain, &load, perf, report).await {
            report.errors.push(format!("{} / areas: failed: {error:#}", backend.name()));
        }
    }

    if config.runs(Scenario::Storage) {
        // One record pushed over HTTP by the storage user's device gives the row template.
        let device_id = "storage-bench".to_owned();
        let token = bench.login(&seeded.storage_user, &device_id).await?;
        let (_, cursor) = bench.first_pull(&token).await?;
        let mut rng = 0x7E3;
        anyhow::ensure!(bench.push(&token, cursor, corpus.body(1, &mut rng)).await? == 1, "the template push failed");
        let mut conn = target.connect()?;
        let template: ObservationRow = observations::table
            .filter(observations::user_id.eq(&seeded.storage_user_id))
            .select(ObservationRow::as_select())
            .first(&mut conn)?;
        drop(conn);
        let who = Who {
            organisation_id: seeded.organisation_id.clone(),
            user_id: seeded.storage_user_id.clone(),
            device_id,
            template,
        };
        let context =
            StorageContext { target: target.clone(), who, corpus: corpus.clone(), data_dir: data_dir.to_owned() };
        let threads = config.storage_threads.clone().unwrap_or_else(|| match backend {
            Backend::Sqlite => vec![1, 4],
            Backend::Postgres => vec![1, 4, 16],
        });
        // (work, thread counts, what-if settings)
        let mut works: Vec<(Storage, Vec<usize>, bool)> = vec![
            (Storage::Bulk(100), threads.clone(), false),
            // Transactions the size of a group commit under load: the storage ceiling of the
            // batched scenario.
            (Storage::Bulk(5000), vec![1], false),
            (Storage::DirectPush(5000), vec![1], false),
            (Storage::Statements(100), vec![1], false),
            (Storage::Bulk(1), threads.clone(), false),
            (Storage::DirectPush(config.batch.batch), threads.clone(), false),
            (Storage::DirectPush(config.single.batch), threads.clone(), false),
        ];
        match backend {
            Backend::Sqlite => works.extend([
                (Storage::Fsync, vec![1], false),
                (Storage::Bulk(100), vec![1], true),
                (Storage::DirectPush(config.batch.batch), vec![1], true),
                (Storage::DirectPush(config.single.batch), vec![1], true),
            ]),
            Backend::Postgres => works
                .extend([(Storage::Bulk(1), vec![1], true), (Storage::DirectPush(config.single.batch), vec![1], true)]),
        }
        let what_if = match backend {
            Backend::Sqlite => " [what-if: synchronous=NORMAL, cache_size=64 MiB; not the server's settings]",
            Backend::Postgres => " [what-if: synchronous_commit=off; not the server's settings]",
        };
        for (work, thread_counts, tuned) in works {
            for n in thread_counts {
                let label = format!("{}{}", work.label(), if tuned { what_if } else { "" });
                eprintln!("{}: {label}, {n} threads", backend.name());
                let max_tx = config.max_requests;
                let measure = config.storage_measure;
                let warm = Duration::from_secs_f64(config.warmup.as_secs_f64().min(1.0));
                let ctx = &context;
                let mut conns = match work {
                    Storage::Fsync => Vec::new(),
                    _ => storage_connections(ctx, n, tuned)?,
                };
                tokio::task::block_in_place(|| storage_run(ctx, work, &mut conns, warm, max_tx))?;
                let probe = Probe::start(measure, perf, backend);
                let sample = tokio::task::block_in_place(|| storage_run(ctx, work, &mut conns, measure, max_tx))?;
                let measured = probe.finish(&sample);
                drop(conns);
                let text = (format!("{n} thread{}", if n == 1 { "" } else { "s" }), work.batch().to_string());
                let mut row = Row::new(format!("baseline: {label}"), backend, text, &sample, measured);
                row.target = "baseline".to_owned();
                println!(
                    "{} | {} threads | {:.0} rows/s, {:.0} tx/s, tx p50 {:.2} ms, p99 {:.2} ms | sleeps/tx {}, fsyncs/tx {}, \
                     postgres fsyncs/tx {} | CPU: {}",
                    label,
                    n,
                    row.records_per_s,
                    row.requests_per_s,
                    row.p50,
                    row.p99,
                    row.per_request(|s| s.sleeps),
                    row.per_request(|s| s.fsyncs),
                    row.per_request(|s| s.postgres_fsyncs),
                    row.cpu
                );
                report.rows.push(row);
            }
        }
    }

    if config.runs(Scenario::FirstSync) {
        eprintln!("{}: first sync", backend.name());
        if let Err(error) = first_sync(config, backend, &bench, &seeded, &corpus, report).await {
            report.errors.push(format!("{} / first sync: failed: {error:#}", backend.name()));
        }
    }
    report.notes.push(format!("{}: at the end, {}", backend.name(), database_size(target, data_dir)));
    Ok(())
}
