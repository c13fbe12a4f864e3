use super::*;

fn status(target: TargetRule, higher_is_better: bool, values: &[(i32, f64)]) -> GroupStatus {
    evaluate(target, higher_is_better, None, values)
}

#[test]
fn maintain_or_improve_compares_with_the_most_recent_earlier_year() {
    let s = status(TargetRule::MaintainOrImprove, true, &[(2024, 78.0), (2020, 90.0), (2022, 76.8)]);
    assert_eq!((s.latest_year, s.previous_year), (Some(2024), Some(2022)));
    assert_eq!(s.change, Some(1.2));
    assert_eq!((s.trend, s.meets_target, s.reason), (Trend::Improved, Some(true), TargetReason::MaintainedOrImproved));
}

#[test]
fn lower_is_better_turns_a_rise_into_a_worsening() {
    let s = status(TargetRule::MaintainOrImprove, false, &[(2021, 19.0), (2023, 22.0)]);
    assert_eq!((s.trend, s.meets_target, s.reason), (Trend::Worsened, Some(false), TargetReason::Worsened));
    let s = status(TargetRule::MaintainOrImprove, false, &[(2021, 19.0), (2023, 19.0)]);
    assert_eq!((s.trend, s.meets_target), (Trend::Unchanged, Some(true)));
}

#[test]
fn a_single_value_has_no_trend_and_maintain_cannot_be_told() {
    let s = status(TargetRule::MaintainOrImprove, true, &[(2022, 51.0)]);
    assert_eq!((s.trend, s.meets_target, s.reason), (Trend::NoData, None, TargetReason::NoPreviousValue));
    assert_eq!(s.change, None);
    let s = status(TargetRule::AtLeast(50.0), true, &[(2022, 51.0)]);
    assert_eq!((s.trend, s.meets_target, s.reason), (Trend::NoData, Some(true), TargetReason::AtOrAboveTarget));
}

#[test]
fn thresholds_are_inclusive() {
    assert_eq!(status(TargetRule::AtLeast(75.0), true, &[(2023, 75.0)]).meets_target, Some(true));
    assert_eq!(status(TargetRule::AtLeast(75.0), true, &[(2023, 74.9)]).reason, TargetReason::BelowTarget);
    assert_eq!(status(TargetRule::AtMost(20.0), false, &[(2023, 20.0)]).reason, TargetReason::AtOrBelowTarget);
    assert_eq!(status(TargetRule::AtMost(20.0), false, &[(2023, 20.5)]).meets_target, Some(false));
    assert_eq!(status(TargetRule::AtMost(20.0), false, &[]).reason, TargetReason::NoData);
}

#[test]
fn a_rule_is_parsed_with_its_threshold_or_refused_naming_the_field() {
    assert_eq!(TargetRule::parse("at_least", Some(75.0)), Ok(TargetRule::AtLeast(75.0)));
    assert_eq!(TargetRule::parse("at_most", None).unwrap_err().field, "target.value");
    assert_eq!(TargetRule::parse("maintain_or_improve", Some(1.0)).unwrap_err().code, "not_allowed");
    assert_eq!(TargetRule::parse("better", None).unwrap_err().code, "unknown_target_kind");
}

#[test]
fn values_must_name_known_groups_once_and_percentages_stay_within_0_to_100() {
    let definition = Definition {
        name_sv: "x".into(),
        name_en: "x".into(),
        source: "x".into(),
        unit: "percent".into(),
        groups: vec!["boys".into(), "girls".into()],
        target: TargetRule::MaintainOrImprove,
        higher_is_better: true,
    };
    let input = |group: Option<&str>, value: f64| ValueInput { group: group.map(str::to_owned), value, note: None };
    let errors = check_values(
        &definition,
        &[input(Some("girls"), 65.0), input(Some("girls"), 66.0), input(Some("cats"), 1.0), input(None, 101.0)],
    )
    .unwrap_err();
    let fields: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
    assert_eq!(
        fields,
        [
            ("values[1].group", "duplicate_group"),
            ("values[2].group", "unknown_group"),
            ("values[3].value", "out_of_range")
        ]
    );
    let checked = check_values(&definition, &[input(None, 70.0), input(Some("boys"), 82.0)]).unwrap();
    assert_eq!(checked[0].group, "");
}
