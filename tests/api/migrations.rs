//! Migrations: the two backends get the same tables and columns, and every migration reverts.

use crate::helpers::*;
use diesel::prelude::*;
use diesel::sql_types::Text;
use lagesbild::db::{DatabaseTarget, DbConnection};
use std::collections::BTreeMap;

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

/// Table name -> sorted column names, read from the backend's own catalogue.
fn schema_of(conn: &mut DbConnection) -> BTreeMap<String, Vec<String>> {
    let columns: Vec<Column> = match conn {
        DbConnection::Sqlite(conn) => diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'",
        )
        .load(conn),
        DbConnection::Postgres(conn) => diesel::sql_query(
            "SELECT table_name::text AS table_name, column_name::text AS column_name FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
        )
        .load(conn),
    }
    .expect("the catalogue is readable");
    let mut schema: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for column in columns {
        schema.entry(column.table_name).or_default().push(column.column_name);
    }
    schema.values_mut().for_each(|columns| columns.sort());
    schema
}

fn fresh_sqlite() -> (tempfile::TempDir, DbConnection) {
    let dir = tempfile::tempdir().unwrap();
    let conn = DatabaseTarget::Sqlite(dir.path().join("m.db")).connect().unwrap();
    (dir, conn)
}

#[test]
fn migration_directories_have_the_same_names_on_both_backends() {
    let names = |backend: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(format!("{}/migrations/{backend}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names("sqlite"), names("postgres"));
    assert!(!names("sqlite").is_empty());
}

#[test]
fn both_backends_get_the_same_tables_and_columns() {
    let (_dir, mut sqlite) = fresh_sqlite();
    lagesbild::db::run_migrations(&mut sqlite).unwrap();
    let sqlite_schema = schema_of(&mut sqlite);
    assert!(sqlite_schema.contains_key("users") && sqlite_schema.contains_key("refresh_tokens"));
    let Some(admin_url) = postgres_admin_url() else {
        eprintln!("LAGESBILD_TEST_POSTGRES_URL is not set: the PostgreSQL side is checked in the PostgreSQL run");
        return;
    };
    let (url, _drop_afterwards) = fresh_postgres(&admin_url);
    let mut postgres = DatabaseTarget::Postgres(url).connect().unwrap();
    lagesbild::db::run_migrations(&mut postgres).unwrap();
    assert_eq!(schema_of(&mut postgres), sqlite_schema);
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let app = spawn_app().await;
    let mut conn = app.conn();
    let full = schema_of(&mut conn);
    let count = std::fs::read_dir(format!("{}/migrations/sqlite", env!("CARGO_MANIFEST_DIR"))).unwrap().count();
    for _ in 0..count {
        lagesbild::db::revert_last_migration(&mut conn).unwrap();
    }
    assert!(schema_of(&mut conn).is_empty(), "every table is gone after reverting all");
    let applied = lagesbild::db::run_migrations(&mut conn).unwrap();
    assert_eq!(applied.len(), count);
    assert_eq!(schema_of(&mut conn), full);
}

#[tokio::test]
async fn processes_started_together_on_an_unmigrated_database_all_migrate_it_once() {
    // A fresh database of the backend under test, not migrated yet.
    let data_dir = tempfile::tempdir().unwrap();
    let postgres = postgres_admin_url().map(|admin| fresh_postgres(&admin));
    let environment = |command: &mut std::process::Command| {
        command
            .env_clear()
            .env("LAGESBILD_DATA_DIR", data_dir.path())
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Some((url, _)) = &postgres {
            command.env("DATABASE_URL", url);
        }
    };
    let children: Vec<std::process::Child> = (0..4)
        .map(|_| {
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_lagesbild"));
            command.arg("migrate");
            environment(&mut command);
            command.spawn().unwrap()
        })
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        children.into_iter().map(|child| child.wait_with_output().unwrap()).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for output in &outputs {
        assert!(output.status.success(), "a process failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let applied = outputs.iter().filter(|o| String::from_utf8_lossy(&o.stdout).contains("applied")).count();
    assert_eq!(applied, 1, "one of them applied the migrations, the others found nothing to do");
    let mut status = std::process::Command::new(env!("CARGO_BIN_EXE_lagesbild"));
    status.args(["migrate", "--status"]);
    environment(&mut status);
    let output = status.output().unwrap();
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("up to date"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
