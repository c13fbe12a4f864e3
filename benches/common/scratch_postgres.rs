//! A fresh PostgreSQL database for one benchmark phase, dropped when it goes (on failure too).

use anyhow::Context;
use diesel::connection::SimpleConnection;

pub struct ScratchDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl ScratchDatabase {
    /// Creates `<prefix>_<uuid>` on the server `admin_url` reaches.
    pub fn create(admin_url: &str, prefix: &str) -> anyhow::Result<Self> {
        let mut admin = lagesbild::db::connect_postgres(admin_url)
            .map_err(|error| anyhow::anyhow!("cannot connect to PostgreSQL at {admin_url}: {error}"))?;
        let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
        admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).context("cannot create the bench database")?;
        let (base, _) = admin_url.rsplit_once('/').context("the PostgreSQL URL needs a database path")?;
        Ok(Self { admin_url: admin_url.to_owned(), url: format!("{base}/{name}"), name })
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        match lagesbild::db::connect_postgres(&self.admin_url) {
            Ok(mut conn) => {
                match conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)) {
                    Ok(()) => eprintln!("dropped database {}", self.name),
                    Err(error) => eprintln!("could not drop database {}: {error}", self.name),
                }
            }
            Err(error) => eprintln!("could not connect to drop database {}: {error}", self.name),
        }
    }
}
