//! Where the sun stands: whether something happened after dark is computed from its position
//! and moment, not from a fixed hour (in Stockholm the sun sets before 15:00 in December and
//! after 22:00 in June).
//!
//! The solar position follows NOAA's solar calculator (after Meeus, *Astronomical
//! Algorithms*): accurate to well under a minute of sunrise and sunset time at Swedish
//! latitudes for the years this product serves.

/// The sun's centre is this far below the horizon at sunrise and sunset (refraction and the
/// solar radius), in degrees.
pub const SUNSET_ALTITUDE: f64 = -0.833;
/// Civil twilight ends when the sun's centre is 6° below the horizon.
pub const CIVIL_TWILIGHT_ALTITUDE: f64 = -6.0;

/// The geometric altitude of the sun's centre above the horizon, in degrees, at `at_ms` (UTC
/// milliseconds) seen from `lat`, `lon` (WGS84 degrees).
pub fn altitude_degrees(lat: f64, lon: f64, at_ms: i64) -> f64 {
    let days = at_ms as f64 / 86_400_000.0;
    let julian_day = days + 2_440_587.5;
    let t = (julian_day - 2_451_545.0) / 36_525.0;
    let mean_longitude = (280.466_46 + t * (36_000.769_83 + t * 0.000_303_2)).rem_euclid(360.0);
    let mean_anomaly = 357.529_11 + t * (35_999.050_29 - 0.000_153_7 * t);
    let eccentricity = 0.016_708_634 - t * (0.000_042_037 + 0.000_000_126_7 * t);
    let m = mean_anomaly.to_radians();
    let centre = m.sin() * (1.914_602 - t * (0.004_817 + 0.000_014 * t))
        + (2.0 * m).sin() * (0.019_993 - 0.000_101 * t)
        + (3.0 * m).sin() * 0.000_289;
    let omega = (125.04 - 1_934.136 * t).to_radians();
    let apparent_longitude = mean_longitude + centre - 0.005_69 - 0.004_78 * omega.sin();
    let mean_obliquity = 23.0 + (26.0 + (21.448 - t * (46.815 + t * (0.000_59 - t * 0.001_813))) / 60.0) / 60.0;
    let obliquity = (mean_obliquity + 0.002_56 * omega.cos()).to_radians();
    let declination = (obliquity.sin() * apparent_longitude.to_radians().sin()).asin();
    let y = (obliquity / 2.0).tan().powi(2);
    let l = mean_longitude.to_radians();
    let equation_of_time_minutes = 4.0
        * (y * (2.0 * l).sin() - 2.0 * eccentricity * m.sin() + 4.0 * eccentricity * y * m.sin() * (2.0 * l).cos()
            - 0.5 * y * y * (4.0 * l).sin()
            - 1.25 * eccentricity * eccentricity * (2.0 * m).sin())
        .to_degrees();
    let minutes_of_day = (days - days.floor()) * 1_440.0;
    let true_solar_minutes = (minutes_of_day + equation_of_time_minutes + 4.0 * lon).rem_euclid(1_440.0);
    let hour_angle = (true_solar_minutes / 4.0 - 180.0).to_radians();
    let latitude = lat.to_radians();
    let cos_zenith = latitude.sin() * declination.sin() + latitude.cos() * declination.cos() * hour_angle.cos();
    90.0 - cos_zenith.clamp(-1.0, 1.0).acos().to_degrees()
}

/// Whether the sun is down at that place and moment: below the horizon, or with `twilight`,
/// past civil twilight as well.
pub fn is_dark(lat: f64, lon: f64, at_ms: i64, twilight: bool) -> bool {
    let limit = if twilight { CIVIL_TWILIGHT_ALTITUDE } else { SUNSET_ALTITUDE };
    altitude_degrees(lat, lon, at_ms) < limit
}

#[cfg(test)]
mod tests {
    use super::*;

    const STOCKHOLM: (f64, f64) = (59.3293, 18.0686);

    /// The first minute (UTC ms) after `from_ms` at which the sun crosses `altitude` in the
    /// given direction, searched minute by minute and refined to the second.
    fn crossing(from_ms: i64, altitude: f64, rising: bool) -> i64 {
        let above = |t: i64| altitude_degrees(STOCKHOLM.0, STOCKHOLM.1, t) >= altitude;
        let mut t = from_ms;
        while above(t) == rising || above(t + 60_000) != rising {
            t += 60_000;
            assert!(t < from_ms + 86_400_000, "no crossing within a day");
        }
        let (mut low, mut high) = (t, t + 60_000);
        while high - low > 1_000 {
            let mid = (low + high) / 2;
            if above(mid) == rising { high = mid } else { low = mid }
        }
        high
    }

    fn utc_ms(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis()
    }

    fn assert_within_a_minute(computed_ms: i64, published: &str) {
        let published = utc_ms(published);
        let off = (computed_ms - published).abs();
        assert!(off <= 60_000, "computed {} is {off} ms from the published {}", computed_ms, published);
    }

    // Published sunrise and sunset for Stockholm (Timeanddate.com, which uses the same
    // −0.833° convention), in local time with its UTC offset.
    #[test]
    fn sunrise_and_sunset_in_stockholm_match_published_times() {
        let cases = [
            // Summer solstice 2024: CEST.
            ("2024-06-20T00:00:00+02:00", "2024-06-20T03:30:00+02:00", "2024-06-20T22:08:00+02:00"),
            // Winter solstice 2024: CET.
            ("2024-12-21T00:00:00+01:00", "2024-12-21T08:43:00+01:00", "2024-12-21T14:48:00+01:00"),
        ];
        for (day, sunrise, sunset) in cases {
            let midnight = utc_ms(day);
            assert_within_a_minute(crossing(midnight, SUNSET_ALTITUDE, true), sunrise);
            assert_within_a_minute(crossing(midnight, SUNSET_ALTITUDE, false), sunset);
        }
    }

    #[test]
    fn day_length_at_the_2022_solstices_matches_the_published_length() {
        // 21 June 2022: 18 h 37 min 8 s; 21 December 2022: 6 h 4 min 48 s.
        for (day, length_s) in [
            ("2022-06-21T00:00:00+02:00", 18 * 3600 + 37 * 60 + 8),
            ("2022-12-21T00:00:00+01:00", 6 * 3600 + 4 * 60 + 48),
        ] {
            let midnight = utc_ms(day);
            let up = crossing(midnight, SUNSET_ALTITUDE, true);
            let down = crossing(midnight, SUNSET_ALTITUDE, false);
            let off = ((down - up) / 1000 - length_s).abs();
            assert!(off <= 60, "{day}: day length off by {off} s");
        }
    }

    #[test]
    fn around_the_daylight_saving_changes_darkness_follows_the_sun_not_the_clock() {
        // The last Sunday of March 2024: clocks go from 02:00 CET to 03:00 CEST. Sunset is
        // about 19:30 CEST that day, an hour "later" on the clock than the day before.
        let before = crossing(utc_ms("2024-03-30T00:00:00+01:00"), SUNSET_ALTITUDE, false);
        let after = crossing(utc_ms("2024-03-31T00:00:00+02:00"), SUNSET_ALTITUDE, false);
        let a_day = 86_400_000;
        // In UTC the sunset moves by a few minutes a day, not by the hour the clocks move.
        assert!((after - before - a_day).abs() < 5 * 60_000, "{}", after - before - a_day);
        // The same local clock time, 19:15, is dark the evening before the change and light
        // the evening after: a fixed "after 19:00" rule would be wrong on one of them.
        assert!(is_dark(59.3293, 18.0686, utc_ms("2024-03-30T19:15:00+01:00"), false));
        assert!(!is_dark(59.3293, 18.0686, utc_ms("2024-03-31T19:15:00+02:00"), false));
        // The last Sunday of October 2024, when the clocks go back: sunset moves by minutes in
        // UTC, and by about an hour on the clock.
        let before = crossing(utc_ms("2024-10-26T00:00:00+02:00"), SUNSET_ALTITUDE, false);
        let after = crossing(utc_ms("2024-10-27T00:00:00+02:00"), SUNSET_ALTITUDE, false);
        assert!((after - before - a_day).abs() < 5 * 60_000, "{}", after - before - a_day);
        assert!(!is_dark(59.3293, 18.0686, utc_ms("2024-10-26T17:00:00+02:00"), false));
        assert!(is_dark(59.3293, 18.0686, utc_ms("2024-10-27T17:00:00+01:00"), false));
    }

    #[test]
    fn darkness_with_and_without_twilight() {
        let (lat, lon) = STOCKHOLM;
        // A December afternoon at 16:00 CET: after sunset (14:48), civil twilight ends ~15:40.
        assert!(is_dark(lat, lon, utc_ms("2024-12-21T16:00:00+01:00"), false));
        assert!(is_dark(lat, lon, utc_ms("2024-12-21T16:00:00+01:00"), true));
        // 15:10 CET: after sunset but still civil twilight.
        assert!(is_dark(lat, lon, utc_ms("2024-12-21T15:10:00+01:00"), false));
        assert!(!is_dark(lat, lon, utc_ms("2024-12-21T15:10:00+01:00"), true));
        // Midnight at midsummer: the sun is down, but it never gets past civil twilight... almost.
        assert!(is_dark(lat, lon, utc_ms("2024-06-20T23:59:00+02:00"), false));
        // Noon is never dark.
        assert!(!is_dark(lat, lon, utc_ms("2024-12-21T12:00:00+01:00"), true));
    }
}
