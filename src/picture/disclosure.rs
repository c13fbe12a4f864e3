//! The partner disclosure rule (`api-spec/partner-disclosure.md`), written once for every view a
//! partner has of observations: the area table, an area's page, the heat map and the export.
//!
//! A partner's figures are built from *cells*: the observations of one tertial, recorded in one
//! area (the smallest area holding them), of one category. A cell is published when it holds at
//! least k observations; every other cell (0 to k−1) is left out. Every figure a partner sees —
//! an area's row (its sub-areas included), a category's column, a total, a comparison with
//! another tertial, a change in percent — is a sum of published cells, or computed from such
//! sums. A cell left out is in no sum at all, so no combination of answers (subtracting one from
//! another, solving them together) says anything about it beyond "fewer than k". Presence
//! (activities, their hours, contacts) follows the same rule with the area and the tertial as the
//! cell, activities and contacts each published from k up, hours with their activities.
//!
//! What would cut the same observations another way is not offered to partners: no hexagons, no
//! other periods than whole tertials, no slicing by hour, weekday, darkness, severity or unit,
//! no hour-of-week, month or severity breakdowns, no after-dark shares or mean safety.

use super::index::{NONE, OrgIndex};
use super::query::{self, Filter};
use super::scope::{Areas, Scope};
use crate::domain::period::{Kind, Period};
use crate::error::{ApiError, ApiResult};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The refusal of a parameter that would cut the published cells another way.
pub fn not_for_partners(field: &str) -> ApiError {
    ApiError::field(
        field,
        "not_for_partners",
        "partners get figures per whole tertial, area and category only (see the partner disclosure rule)",
    )
}

/// A partner's period: a tertial (the current one when none is given).
pub fn partner_period(period: Option<Period>, tz: chrono_tz::Tz) -> ApiResult<Period> {
    match period {
        Some(period) if matches!(period.kind, Kind::Tertial(_)) => Ok(period),
        Some(_) => Err(ApiError::field(
            "period",
            "not_for_partners",
            "partners get whole tertials only (2026-T3): other periods would overlap them",
        )),
        None => {
            let today = chrono::Utc::now().with_timezone(&tz).date_naive();
            let tertial = (chrono::Datelike::month(&today) - 1) / 4 + 1;
            Period::parse("period", &format!("{}-T{tertial}", chrono::Datelike::year(&today)))
                .map_err(|error| ApiError::Validation(vec![error]))
        }
    }
}

/// The published cells of one tertial within what a partner may see.
#[derive(Debug, Clone, Default)]
pub struct Published {
    /// (area as recorded, category) → observations, only from k up.
    observations: HashMap<(u16, u16), u32>,
    /// Area as recorded → activities, only from k up, with their hours.
    activities: HashMap<u16, (u32, f64)>,
    /// Area as recorded → contacts, only from k up.
    contacts: HashMap<u16, u64>,
}

/// Sums of published cells over a set of areas.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sums {
    pub observations: u32,
    pub by_category: BTreeMap<u16, u32>,
    pub activities: u32,
    pub hours: f64,
    pub contacts: u64,
}

impl Published {
    /// The cells of `period` (a tertial) in the areas `visible` (area codes as recorded).
    pub fn of(index: &OrgIndex, period: Period, visible: &HashSet<u16>, k: u32) -> Self {
        let (from_ms, to_ms) = period.bounds_ms(index.tz);
        let areas: Vec<u16> = visible.iter().copied().collect();
        let filter = Filter {
            from_ms,
            to_ms,
            areas: if areas.is_empty() { vec![NONE - 1] } else { areas },
            ..Filter::default()
        };
        // No parents: each area's own records, the cells themselves.
        let own = query::area_figures(index, &filter, &HashMap::new());
        let mut published = Self::default();
        for (area, figures) in own {
            if area == NONE || !visible.contains(&area) {
                continue;
            }
            for (category, n) in &figures.by_category {
                if *n >= k {
                    published.observations.insert((area, *category), *n);
                }
            }
            if figures.activities >= k {
                published.activities.insert(area, (figures.activities, figures.activity_hours()));
            }
            if figures.contacts >= u64::from(k) {
                published.contacts.insert(area, figures.contacts);
            }
        }
        published
    }

    /// The sums over `areas` (codes as recorded), of the `categories` asked for (all if empty).
    pub fn sum(&self, areas: &[u16], categories: &[u16]) -> Sums {
        let mut sums = Sums::default();
        for &area in areas {
            for ((cell_area, category), n) in &self.observations {
                if *cell_area == area && (categories.is_empty() || categories.contains(category)) {
                    sums.observations += n;
                    *sums.by_category.entry(*category).or_default() += n;
                }
            }
            if let Some((activities, hours)) = self.activities.get(&area) {
                sums.activities += activities;
                sums.hours += hours;
            }
            sums.contacts += self.contacts.get(&area).copied().unwrap_or(0);
        }
        sums
    }

    /// Every published observation cell: (area as recorded, category, count).
    pub fn cells(&self) -> impl Iterator<Item = (u16, u16, u32)> + '_ {
        self.observations.iter().map(|((area, category), n)| (*area, *category, *n))
    }
}

/// The area codes a partner may see, as recorded.
pub fn visible(areas: &Areas, scope: &Scope) -> HashSet<u16> {
    areas.visible(scope).unwrap_or_default()
}
