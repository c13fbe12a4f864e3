//! The README, run as a reader would: its set-up commands and its guided tour, literally, with
//! bash, curl and jq, against a fresh server.

use crate::cli::{in_app_environment, run};
use crate::helpers::*;
use std::process::Command;

const README: &str = include_str!("../../README.md");
const PASSWORD: &str = "ett långt lösenord för anna";

/// The shell blocks of the README section under `heading`.
fn shell_blocks(heading: &str) -> Vec<&'static str> {
    let start = README.find(heading).unwrap_or_else(|| panic!("README has a section {heading}"));
    let section = &README[start + heading.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    section.split("```sh\n").skip(1).filter_map(|block| block.split("\n```").next()).collect()
}

/// Whether every tool is on the PATH. CI has them and says so (`LAGESBILD_TEST_NEEDS_TOOLS`); a
/// machine without them skips the tour, saying so.
fn have_tools(tools: &[&str]) -> bool {
    let missing: Vec<_> = tools
        .iter()
        .filter(|tool| {
            !Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(std::env::var_os("LAGESBILD_TEST_NEEDS_TOOLS").is_none(), "the README tour needs {missing:?}");
    eprintln!("skipped: the README tour needs {missing:?}");
    false
}

/// Runs the guided tour and returns each step's output, by the comment that opens it.
fn run_tour(app: &TestApp, dir: &std::path::Path) -> Vec<(String, String)> {
    let tour = shell_blocks("## A guided tour with curl").into_iter().next().expect("the tour has a shell block");
    let tokens = dir.join("tokens.json");
    let mut script = String::from("set -euo pipefail\n");
    let mut in_comment = false;
    for line in tour.lines() {
        let line = if line.starts_with("API=") {
            format!("API={}", app.address)
        } else if line.starts_with("PASSWORD=") {
            format!("PASSWORD='{PASSWORD}'")
        } else {
            line.replace("/tmp/tokens.json", &tokens.display().to_string())
        };
        let comment = line.strip_prefix("# ");
        if let (Some(comment), false) = (comment, in_comment) {
            script.push_str(&format!("echo; echo '@@@ {}'\n", comment.replace('\'', "")));
        }
        in_comment = comment.is_some();
        script.push_str(&line);
        script.push('\n');
    }
    let mut bash = in_app_environment(Command::new("bash"), app);
    let (code, out, err) = run(bash.current_dir(dir).args(["-c", &script]), "");
    assert_eq!(code, 0, "the tour failed:\n{out}\n{err}");
    out.split("@@@ ")
        .skip(1)
        .map(|step| {
            let (comment, output) = step.split_once('\n').unwrap_or((step, ""));
            (comment.to_owned(), output.trim().to_owned())
        })
        .collect()
}

fn step<'a>(steps: &'a [(String, String)], opening: &str) -> &'a str {
    &steps.iter().find(|(comment, _)| comment.starts_with(opening)).unwrap_or_else(|| panic!("a step {opening}")).1
}

#[tokio::test]
async fn the_readme_set_up_and_tour_run_literally_show_results_at_every_step() {
    if !have_tools(&["bash", "curl", "jq"]) {
        return;
    }
    let app = spawn_app().await;
    // The set-up: the block that creates the organisation, its unit and its administrator.
    let setup = shell_blocks("## Start")
        .into_iter()
        .find(|block| block.contains("lagesbild org add"))
        .expect("Start has the set-up commands");
    for command in setup.lines().filter(|line| line.starts_with("lagesbild ")) {
        let mut bash = in_app_environment(Command::new("bash"), &app);
        let (code, out, err) = run(bash.args(["-c", command]), &format!("{PASSWORD}\n"));
        assert_eq!(code, 0, "{command}: {out}{err}");
    }

    // The server runs on this test's runtime; the tour blocks, so it runs beside it.
    let dir = tempfile::tempdir().unwrap();
    let (_app, dir, steps) = tokio::task::spawn_blocking(move || {
        let steps = run_tour(&app, dir.path());
        (app, dir, steps)
    })
    .await
    .unwrap();
    assert!(steps.len() >= 10, "{steps:?}");
    for (comment, output) in &steps {
        assert!(!output.is_empty() && output != "null", "the step '{comment}' showed nothing: {output:?}");
        assert!(!output.contains("\"status\":5") && !output.contains("\"status\": 5"), "{comment}: {output}");
    }

    assert!(step(&steps, "Log in").contains("refresh_token"));
    assert!(step(&steps, "Who am I").contains("\"anna\""), "{}", step(&steps, "Who am I"));
    assert!(step(&steps, "Add a field assistant").contains("anna-phone"));
    let sync = step(&steps, "Sync as a phone");
    assert!(sync.contains("0193a0f0-0000-7000-8000-000000000001") && sync.contains("\"area_code\": \"TC\""), "{sync}");
    let picture = step(&steps, "The picture");
    for expected in ["\"area\": \"TC\"", "\"area\": \"TY\"", "\"observations\": 1", "\"severity_histogram\""] {
        assert!(picture.contains(expected), "{expected} in {picture}");
    }
    assert!(step(&steps, "Deleting TY").contains("area_has_children"));
    let follow_up = step(&steps, "Follow-up");
    assert!(follow_up.contains("outreach_shift") && follow_up.contains("\"row_count\""), "{follow_up}");
    let csv = std::fs::read_to_string(dir.path().join("aktiviteter.csv")).unwrap();
    assert!(csv.lines().count() >= 2 && csv.contains(';'), "{csv}");
    let geojson: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("observationer.geojson")).unwrap()).unwrap();
    assert_eq!(geojson["features"].as_array().map(Vec::len), Some(1), "{geojson}");
    let report = std::fs::read_to_string(dir.path().join("uppfoljning.html")).unwrap();
    assert!(report.contains("<html") && report.contains("Fler besökare"), "the report holds the assessment");
    let plan = step(&steps, "The action plan");
    assert!(plan.contains("\"status\": \"open\"") && plan.contains("\"status\": \"planned\""), "{plan}");
    assert!(plan.contains("\"delivered_hours\"") && plan.contains("\"weeks\""), "{plan}");
    let lagesbild = step(&steps, "The lägesbild for the period");
    assert!(lagesbild.contains("\"version\": 1") && lagesbild.contains("\"kind\": \"lagesbild\""), "{lagesbild}");
    let document = std::fs::read_to_string(dir.path().join("lagesbild.html")).unwrap();
    assert!(
        document.contains("Belysningen i gångtunneln") && document.contains("data-version=\"1\""),
        "the approved document"
    );
    let feedback = step(&steps, "Feedback to the field");
    assert!(feedback.contains("\"measure_title\": \"Kvällsvandringar i Tyresö centrum\""), "{feedback}");
    assert!(feedback.contains("\"area_codes\": \"[\\\"TC\\\"]\""), "{feedback}");
    assert!(step(&steps, "A phone is lost").contains("device_revoked"));
}
