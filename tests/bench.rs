//! The benchmark command runs end to end and reports each result beside its
//! floors. Only the shape is checked: timings belong to the benchmark, not
//! to tests.

use std::process::Command;

use serde_json::Value;

/// Runs `gamebridge bench ARGS --json` and parses its report.
fn bench(args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_gamebridge"))
        .args(["-q", "bench"])
        .args(args)
        .arg("--json")
        .output()
        .expect("run gamebridge bench");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON report")
}

#[test]
fn bench_call_reports_results_floors_and_the_ratio_as_json() {
    let report = bench(&["call", "--calls", "40", "--concurrency", "1,4"]);
    let labels = |key: &str| -> Vec<String> {
        report[key].as_array().unwrap().iter().map(|row| row["label"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(
        labels("floors"),
        ["raw socket ping-pong", "empty HTTP round trip", "empty HTTP round trip c=4"]
    );
    assert_eq!(labels("results"), ["bridge /lua/call c=1", "bridge /lua/call c=4"]);
    for row in report["floors"].as_array().unwrap().iter().chain(report["results"].as_array().unwrap()) {
        assert!(
            row["p50_us"].as_f64().unwrap() > 0.0
                && row["p99_us"].as_f64().unwrap() >= row["p50_us"].as_f64().unwrap()
        );
        assert!(row["calls"].as_u64().unwrap() >= 40);
    }
    // c=1 against raw + HTTP; c=4 against the HTTP floor at c=4, and its p99 against 5 ms.
    let targets: Vec<&Value> =
        report["ratios"].as_array().unwrap().iter().map(|ratio| &ratio["target"]).collect();
    assert_eq!(targets, [2.0, 1.5, 1.0]);
    for ratio in report["ratios"].as_array().unwrap() {
        assert!(ratio["value"].as_f64().unwrap().is_finite() && ratio["met"].is_boolean(), "{ratio}");
    }
}

#[test]
fn bench_events_delivers_every_event_to_every_client() {
    let report = bench(&["events", "--events", "200", "--clients", "1,5"]);
    assert_eq!(report["floors"][0]["label"], "raw socket (frame + parse)");
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for row in results {
        assert_eq!(row["calls"], 200, "every client got every event");
        assert!(row["per_second"].as_f64().unwrap() > 0.0);
    }
    assert!(report["ratios"][0]["value"].as_f64().unwrap().is_finite());
}

#[test]
fn bench_mailbox_compares_with_the_python_client() {
    let report =
        bench(&["mailbox", "--calls", "3", "--tick-ms", "5", "--slow-calls", "20", "--idle-secs", "1"]);
    assert_eq!(report["floors"][0]["label"], "Python client (100 ms poll)");
    assert_eq!(report["results"][0]["label"], "gamebridge legacy mailbox");
    assert_eq!(report["results"][0]["calls"], 3);
    assert_eq!(report["ratios"][0]["target"], 0.2);
    assert!(report["ratios"][0]["value"].as_f64().unwrap() > 0.0);
    assert_eq!(
        (report["results"][1]["concurrency"].as_u64(), report["results"][1]["calls"].as_u64()),
        (Some(20), Some(20))
    );
    let ratio = |label: &str| {
        let ratios = report["ratios"].as_array().unwrap();
        let found = ratios.iter().find(|ratio| ratio["label"].as_str().unwrap().starts_with(label));
        found.unwrap_or_else(|| panic!("{label}: {ratios:?}"))["value"].as_f64().unwrap()
    };
    assert_eq!(ratio("calls without their answer"), 0.0);
    assert_eq!(ratio("commands run twice"), 0.0);
    assert!(ratio("bridge CPU at rest, %") >= 0.0);
}

#[test]
fn bench_step_measures_instances_beside_a_raw_ping_pong() {
    let report = bench(&["step", "--steps", "50", "--instances", "1,4"]);
    assert_eq!(report["floors"][0]["label"], "raw TCP ping-pong");
    assert_eq!(report["results"][0]["calls"], 50);
    assert_eq!(report["results"][1]["calls"], 200, "4 instances × 50 steps");
    let targets: Vec<f64> =
        report["ratios"].as_array().unwrap().iter().map(|r| r["target"].as_f64().unwrap()).collect();
    assert_eq!(targets, [3.0, 1.0]);
}

#[test]
fn bench_tick_measures_rules_and_a_websocket_agent() {
    let report = bench(&["tick", "--agents", "1,3", "--work", "40"]);
    assert_eq!(report["floors"][0]["label"], "empty HTTP handler");
    let labels: Vec<&str> =
        report["results"].as_array().unwrap().iter().map(|row| row["label"].as_str().unwrap()).collect();
    assert_eq!(
        labels,
        ["rules, 1 agents", "rules, 3 agents", "WebSocket agent, 1 agents", "WebSocket agent, 3 agents"]
    );
}

#[test]
fn bench_batch_measures_a_batch_beside_pipelined_raw_calls() {
    let report = bench(&["batch", "--batches", "20", "--size", "8"]);
    let labels = |key: &str| -> Vec<String> {
        report[key].as_array().unwrap().iter().map(|row| row["label"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(labels("floors"), ["raw socket, 8 calls pipelined", "HTTP echo of the batch body"]);
    assert_eq!(labels("results"), ["bridge /lua/batch of 8", "bridge /lua/call, one call"]);
    assert_eq!(report["ratios"][0]["target"], 2.0);
    assert!(report["ratios"][0]["value"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_scale_grows_each_quantity_and_the_chart_draws_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_gamebridge"))
        .args(["-q", "bench", "scale", "--calls", "60", "--payloads", "1024,65536"])
        .args(["--games", "1,3", "--clients", "1,5", "--json"])
        .output()
        .expect("run gamebridge bench scale");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let series = report["series"].as_array().unwrap();
    let names: Vec<&str> = series.iter().map(|series| series["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["payload", "games", "clients"]);
    let xs = |index: usize| -> Vec<u64> {
        series[index]["points"].as_array().unwrap().iter().map(|point| point["x"].as_u64().unwrap()).collect()
    };
    assert_eq!((xs(0), xs(1), xs(2)), (vec![1024, 65536], vec![1, 3], vec![1, 5]));
    let clients_point = &series[2]["points"][1];
    assert_eq!(clients_point["bridge"]["concurrency"], 5);
    assert_eq!(clients_point["raw"]["concurrency"], 5, "each floor at the same concurrency");
    for point in series.iter().flat_map(|series| series["points"].as_array().unwrap()) {
        assert!(point["ratio"].as_f64().unwrap() > 0.0);
    }

    let folder = tempfile::tempdir().unwrap();
    let json = folder.path().join("scale.json");
    let svg = folder.path().join("scale.svg");
    std::fs::write(&json, &output.stdout).unwrap();
    let chart = Command::new(env!("CARGO_BIN_EXE_gamebridge"))
        .args(["bench", "chart"])
        .arg(&json)
        .arg("--output")
        .arg(&svg)
        .output()
        .expect("run gamebridge bench chart");
    assert!(chart.status.success(), "{}", String::from_utf8_lossy(&chart.stderr));
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(drawn.starts_with("<svg"), "an SVG document");
    assert!(drawn.contains("p50 latency vs clients of one game"), "one panel per series");
}

#[test]
fn bench_chart_refuses_json_that_is_not_a_scale_report() {
    let folder = tempfile::tempdir().unwrap();
    let json = folder.path().join("call.json");
    std::fs::write(&json, r#"{"scenario":"call","floors":[]}"#).unwrap();
    let chart = Command::new(env!("CARGO_BIN_EXE_gamebridge"))
        .args(["bench", "chart"])
        .arg(&json)
        .output()
        .expect("run gamebridge bench chart");
    assert!(!chart.status.success());
    let stderr = String::from_utf8_lossy(&chart.stderr);
    assert!(stderr.contains("is not the JSON of `bench scale --json`"), "{stderr}");
}
