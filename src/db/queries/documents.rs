//! The approved lägesbild and åtgärdsplan documents: written once, never changed.

use crate::db::DbConnection;
use crate::db::schema::plan_documents;
use diesel::dsl::max;
use diesel::prelude::*;

/// A document version without its rendered content.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = plan_documents)]
pub struct DocumentMeta {
    pub id: String,
    pub kind: String,
    pub period: String,
    pub version: i64,
    pub lang: String,
    pub analysis: String,
    pub partner_input: String,
    pub approved_by: String,
    pub approved_by_name: String,
    pub approved_at: i64,
}

/// A version to store; its number is the next of its kind and period.
pub struct NewDocument {
    pub organisation_id: String,
    pub id: String,
    pub kind: String,
    pub period: String,
    pub lang: String,
    pub analysis: String,
    pub partner_input: String,
    pub approved_by: String,
    pub approved_by_name: String,
    pub approved_at: i64,
}

/// The rendered content of a version.
pub struct Content {
    pub html: String,
    pub csv: String,
    pub xlsx: Vec<u8>,
}

/// The number the next version of this kind and period gets.
pub fn next_version(conn: &mut DbConnection, org: &str, kind: &str, period: &str) -> QueryResult<i64> {
    let highest: Option<i64> = plan_documents::table
        .filter(plan_documents::organisation_id.eq(org))
        .filter(plan_documents::kind.eq(kind))
        .filter(plan_documents::period.eq(period))
        .select(max(plan_documents::version))
        .first(conn)?;
    Ok(highest.unwrap_or(0) + 1)
}

/// Stores a version. Two approvals of the same kind and period at once cannot both take one
/// number: the second fails on the unique key.
pub fn insert(conn: &mut DbConnection, document: &NewDocument, version: i64, content: &Content) -> QueryResult<()> {
    diesel::insert_into(plan_documents::table)
        .values((
            plan_documents::organisation_id.eq(&document.organisation_id),
            plan_documents::id.eq(&document.id),
            plan_documents::kind.eq(&document.kind),
            plan_documents::period.eq(&document.period),
            plan_documents::version.eq(version),
            plan_documents::lang.eq(&document.lang),
            plan_documents::analysis.eq(&document.analysis),
            plan_documents::partner_input.eq(&document.partner_input),
            plan_documents::approved_by.eq(&document.approved_by),
            plan_documents::approved_by_name.eq(&document.approved_by_name),
            plan_documents::approved_at.eq(document.approved_at),
            plan_documents::html.eq(&content.html),
            plan_documents::csv.eq(&content.csv),
            plan_documents::xlsx.eq(&content.xlsx),
        ))
        .execute(conn)
        .map(drop)
}

/// The organisation's versions, newest approval first; only of `kind` and `period` when given.
pub fn list(
    conn: &mut DbConnection,
    org: &str,
    kind: Option<&str>,
    period: Option<&str>,
) -> QueryResult<Vec<DocumentMeta>> {
    let mut query = plan_documents::table
        .filter(plan_documents::organisation_id.eq(org))
        .select(DocumentMeta::as_select())
        .order((plan_documents::approved_at.desc(), plan_documents::version.desc()))
        .into_boxed();
    if let Some(kind) = kind {
        query = query.filter(plan_documents::kind.eq(kind.to_owned()));
    }
    if let Some(period) = period {
        query = query.filter(plan_documents::period.eq(period.to_owned()));
    }
    query.load(conn)
}

/// One version.
pub fn get(conn: &mut DbConnection, org: &str, id: &str) -> QueryResult<Option<DocumentMeta>> {
    plan_documents::table.find((org, id)).select(DocumentMeta::as_select()).first(conn).optional()
}

/// One version's rendered content.
pub fn content(conn: &mut DbConnection, org: &str, id: &str) -> QueryResult<Option<(DocumentMeta, Content)>> {
    let found: Option<(DocumentMeta, String, String, Vec<u8>)> = plan_documents::table
        .find((org, id))
        .select((DocumentMeta::as_select(), plan_documents::html, plan_documents::csv, plan_documents::xlsx))
        .first(conn)
        .optional()?;
    Ok(found.map(|(meta, html, csv, xlsx)| (meta, Content { html, csv, xlsx })))
}
