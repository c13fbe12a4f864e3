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
