use super::*;
use chrono::Timelike;

fn two_years(now: chrono::DateTime<chrono::Utc>) -> (NaiveDate, i64) {
    let today = now.with_timezone(&chrono_tz::Europe::Stockholm).date_naive();
    (today - chrono::Months::new(24), now.timestamp_millis())
}

#[test]
fn the_same_days_give_the_same_records() {
    let now = chrono::Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
    let (first, now_ms) = two_years(now);
    let first_run = generate(chrono_tz::Europe::Stockholm, first, now_ms);
    assert_eq!(first_run, generate(chrono_tz::Europe::Stockholm, first, now_ms));
    assert!(first_run.observations.len() > 9_000, "{}", first_run.observations.len());
    assert!(first_run.observations.iter().all(|(_, r)| r["observed_at"].as_i64().unwrap() <= now_ms));
}

#[test]
fn the_records_have_the_shape_of_the_work() {
    let tz = chrono_tz::Europe::Stockholm;
    let now = chrono::Utc.with_ymd_and_hms(2026, 11, 26, 21, 0, 0).unwrap();
    let (first, now_ms) = two_years(now);
    let generated = generate(tz, first, now_ms);
    let local = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap().with_timezone(&tz);
    let evening = generated
        .observations
        .iter()
        .filter(|(_, r)| (18..=23).contains(&local(r["observed_at"].as_i64().unwrap()).hour()))
        .count();
    assert!(evening * 2 > generated.observations.len(), "most observations are made in the evening");
    let share = |months: &[u32], category: &str| {
        let in_months: Vec<_> = generated
            .observations
            .iter()
            .filter(|(_, r)| months.contains(&local(r["observed_at"].as_i64().unwrap()).month()))
            .collect();
        in_months.iter().filter(|(_, r)| r["category"] == category).count() as f64 / in_months.len() as f64
    };
    assert!(share(&[11, 12, 1], "lighting") > 2.0 * share(&[6, 7], "lighting"));
    assert!(share(&[6, 7, 8], "youth_gathering") > share(&[12, 1, 2], "youth_gathering"));
    let cafe: Vec<_> = generated.activities.iter().filter(|(_, r)| r["activity_type"] == "summer_cafe").collect();
    assert!(cafe.iter().all(|(_, r)| (6..=8).contains(&local(r["started_at"].as_i64().unwrap()).month())));
    let visitors = |year: i32| -> i64 {
        cafe.iter()
            .filter(|(_, r)| local(r["started_at"].as_i64().unwrap()).year() == year)
            .map(|(_, r)| GENDERS.iter().map(|g| r[*g].as_i64().unwrap()).sum::<i64>())
            .sum()
    };
    assert!(visitors(2026) > visitors(2025) && visitors(2025) > 0);
    for (_, record) in &generated.activities {
        let genders: i64 = GENDERS.iter().map(|g| record[*g].as_i64().unwrap()).sum();
        let ages: i64 = AGES.iter().map(|a| record[*a].as_i64().unwrap()).sum();
        assert_eq!(genders, ages, "{record}");
    }
    let redacted = generated
        .observations
        .iter()
        .filter(|(_, r)| crate::domain::redaction::redact(r["note"].as_str().unwrap()).redacted())
        .count();
    let with_number =
        generated.observations.iter().filter(|(_, r)| r["note"].as_str().unwrap().contains("kontaktad på")).count();
    assert!(with_number > 0);
    assert_eq!(redacted, with_number, "only the notes with a phone number are redacted");
}
