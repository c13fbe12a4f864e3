//! Who may see what of the picture, written once for every view of it (the heat map, the area
//! table, an area's page, the reports and the exports): coordinators and admins see every
//! figure; a partner sees the areas shared with them and what lies inside those, and every
//! count below the organisation's k is suppressed.

use super::index::OrgIndex;
use crate::db::DbConnection;
use crate::db::QueryResult;
use crate::db::queries::{organisations, partners};
use crate::domain::areas::with_descendants;
use crate::domain::identity::Role;
use crate::error::{ApiError, ApiResult};
use std::collections::{HashMap, HashSet};

/// The caller's view: everything, or a partner's shared areas with suppression.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Whether the caller is a partner (aggregates of shared areas only, small counts hidden).
    pub partner: bool,
    /// Area codes a partner may see (with their sub-areas).
    pub shared: HashSet<String>,
    /// Counts below this are hidden from a partner.
    pub k: u32,
}

impl Scope {
    /// The scope of a caller of the organisation.
    pub fn read(conn: &mut DbConnection, organisation_id: &str, user_id: &str, role: Role) -> QueryResult<Self> {
        let (_, _, k) = organisations::report_settings(conn, organisation_id)?;
        let partner = role == Role::Partner;
        let shared = if partner {
            partners::shared_areas(conn, organisation_id, user_id)?.into_iter().collect()
        } else {
            HashSet::new()
        };
        Ok(Self { partner, shared, k })
    }

    /// The whole organisation, nothing suppressed (the command line's exports).
    pub fn everything() -> Self {
        Self { partner: false, shared: HashSet::new(), k: 1 }
    }

    /// A count as the caller may see it: none for a partner below k.
    pub fn visible(&self, n: u32) -> Option<u32> {
        (!self.hidden(n)).then_some(n)
    }

    /// Whether a count is hidden from the caller.
    pub fn hidden(&self, n: u32) -> bool {
        self.partner && n < self.k
    }

    /// The areas a report covers, by code: the scope's, narrowed to `area` (with what it
    /// contains) when given. `tree` is every area with its name and parent.
    pub fn selection(&self, tree: &[(String, String, Option<String>)], area: Option<&str>) -> ApiResult<Selection> {
        let links = tree.iter().filter_map(|(code, _, parent)| Some((code.clone(), parent.clone()?)));
        let area = area.map(str::trim).filter(|a| !a.is_empty());
        if !self.partner {
            let areas = match area {
                None => None,
                Some(code) if tree.iter().any(|(c, _, _)| c == code) => Some(with_descendants(code.to_owned(), links)),
                Some(code) => {
                    return Err(ApiError::field("area", "unknown_area", format!("there is no area `{code}`")));
                }
            };
            return Ok(Selection { areas, suppress_below: None });
        }
        let visible: HashSet<String> =
            self.shared.iter().flat_map(|code| with_descendants(code.clone(), links.clone())).collect();
        let areas = match area {
            None => visible,
            Some(code) if visible.contains(code) => with_descendants(code.to_owned(), links),
            // Unknown, or not shared with the partner: the same answer, so nothing leaks.
            Some(_) => return Err(ApiError::field("area", "unknown_area", "no such area is shared with you")),
        };
        Ok(Selection { areas: Some(areas), suppress_below: Some(self.k) })
    }
}

/// Which areas a report covers, and whether its counts are suppressed.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Area codes to keep; `None` for everything, also outside areas.
    pub areas: Option<HashSet<String>>,
    /// k for partners.
    pub suppress_below: Option<u32>,
}

/// The organisation's areas as the picture's index codes them.
#[derive(Debug, Default)]
pub struct Areas {
    /// Code number → area code, for every stored area and every code seen on a record.
    pub names: HashMap<u16, String>,
    /// Code number → the area's display name (stored areas only).
    pub display: HashMap<u16, String>,
    /// Code number → its parent's code number.
    pub parents: HashMap<u16, u16>,
}

impl Areas {
    /// Codes every stored area of `tree` in the index, with its name and parent.
    pub fn code(index: &mut OrgIndex, tree: &[(String, String, Option<String>)]) -> Self {
        let mut areas = Areas::default();
        for (code, name, _) in tree {
            let number = index.areas.code(code);
            areas.display.insert(number, name.clone());
        }
        for (code, _, parent) in tree {
            if let (Some(child), Some(parent)) =
                (index.areas.find(code), parent.as_deref().and_then(|p| index.areas.find(p)))
            {
                areas.parents.insert(child, parent);
            }
        }
        areas.names = (0..index.areas.len())
            .filter_map(|number| u16::try_from(number).ok())
            .filter_map(|number| Some((number, index.areas.name(number)?.to_owned())))
            .collect();
        areas
    }

    /// The code number of an area code.
    pub fn find(&self, code: &str) -> Option<u16> {
        self.names.iter().find(|(_, name)| name.as_str() == code).map(|(number, _)| *number)
    }

    /// The area and every area inside it.
    pub fn with_descendants(&self, code: u16) -> Vec<u16> {
        with_descendants(code, self.parents.iter().map(|(child, parent)| (*child, *parent))).into_iter().collect()
    }

    /// The codes a scope may see: all (`None`), or a partner's shared areas with what they contain.
    pub fn visible(&self, scope: &Scope) -> Option<HashSet<u16>> {
        scope.partner.then(|| {
            self.names
                .iter()
                .filter(|(_, name)| scope.shared.contains(name.as_str()))
                .flat_map(|(code, _)| self.with_descendants(*code))
                .collect()
        })
    }
}
