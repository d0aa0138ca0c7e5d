//! The benchmark command runs end to end and reports each result beside its
//! floors. Only the shape is checked: timings belong to the benchmark, not
//! to tests.

use std::path::{Path, PathBuf};
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
    let stalled =
        ["--stalled", "20", "--stall-rate", "2000", "--stall-secs", "0.2", "--stall-fill-secs", "1"];
    let report = bench(&[&["events", "--events", "200", "--clients", "1,5"][..], &stalled].concat());
    assert_eq!(report["floors"][0]["label"], "raw socket (frame + parse)");
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for row in results {
        assert_eq!(row["calls"], 200, "every client got every event");
        assert!(row["per_second"].as_f64().unwrap() > 0.0);
    }
    let ratios = report["ratios"].as_array().unwrap();
    assert!(ratios[0]["value"].as_f64().unwrap().is_finite());
    // The reading client beside the stalled ones lost nothing (the benchmark
    // fails otherwise) and what the stalled ones cost is reported.
    let stalled_cost =
        ratios.iter().find(|ratio| ratio["label"].as_str().unwrap().contains("20 stalled clients add"));
    assert!(stalled_cost.unwrap()["value"].as_f64().unwrap().is_finite(), "{ratios:?}");
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

/// The interpreter `bench tick` runs its FastAPI baseline with, when it has
/// FastAPI and uvicorn: the venv `.ci/python` makes, else `python3`.
fn python_with_fastapi() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/python-venv/bin/python");
    [venv, PathBuf::from("python3")].into_iter().find(|python| {
        let imports = Command::new(python).args(["-c", "import fastapi, pydantic, uvicorn"]).output();
        imports.is_ok_and(|output| output.status.success())
    })
}

#[test]
fn bench_tick_measures_rules_and_a_websocket_agent() {
    // The FastAPI baseline takes a second to start, so it runs here whenever
    // an interpreter has it; the bench checks it answers as the rules do.
    let python = python_with_fastapi();
    let mut args = vec!["tick", "--agents", "1,3", "--work", "40"];
    match &python {
        Some(python) => args.extend(["--python", python.to_str().expect("a UTF-8 path")]),
        None => args.push("--no-baseline"),
    }
    let report = bench(&args);
    assert_eq!(report["floors"][0]["label"], "empty HTTP handler");
    let labels = |key: &str| -> Vec<String> {
        report[key].as_array().unwrap().iter().map(|row| row["label"].as_str().unwrap().to_owned()).collect()
    };
    let mut expected = vec!["rules, 1 agent", "rules, 3 agents"];
    if python.is_some() {
        expected.extend(["FastAPI baseline, 1 agent", "FastAPI baseline, 3 agents"]);
    }
    expected.extend(["WebSocket agent, 1 agent", "WebSocket agent, 3 agents"]);
    assert_eq!(labels("results"), expected);

    let ratios = report["ratios"].as_array().unwrap();
    let ratio = |label: &str| {
        let found = ratios.iter().find(|ratio| ratio["label"].as_str().unwrap().starts_with(label));
        found.unwrap_or_else(|| panic!("no ratio {label:?} in {ratios:?}"))
    };
    let marginal = ratio("rules marginal µs per agent: (p50(3 agents) − p50(1 agent)) / 2");
    assert_eq!(marginal["target"], 1.5, "issue 18's target");
    assert!(marginal["value"].as_f64().unwrap().is_finite() && marginal["met"].is_boolean());
    assert!(ratio("WebSocket agent marginal µs per agent")["target"].is_null());
    if python.is_some() {
        assert!(ratio("FastAPI baseline marginal µs per agent")["target"].is_null());
        for agents in ["1 agent", "3 agents"] {
            let speedup = ratio(&format!("rules / FastAPI time per tick, {agents} (rules = "));
            assert!(speedup["value"].as_f64().unwrap() > 0.0, "{speedup}");
            assert!(speedup["target"].is_null(), "the ≥ 10× target is at 100 agents");
        }
    } else {
        assert!(labels("ratios").iter().all(|label| !label.contains("FastAPI")), "{ratios:?}");
    }
}

#[test]
fn bench_chart_draws_the_cost_per_agent_of_a_tick_report() {
    let row = |series: &str, agents: usize, p50_us: f64| {
        let label = format!("{series}, {agents} agent{}", if agents == 1 { "" } else { "s" });
        serde_json::json!({"label": label, "concurrency": agents, "calls": 20, "per_second": 1e6 / p50_us,
            "p50_us": p50_us, "p99_us": p50_us * 1.5})
    };
    let mut results = Vec::new();
    for (series, fixed, per_agent) in
        [("rules", 120.0, 2.0), ("FastAPI baseline", 900.0, 60.0), ("WebSocket agent", 300.0, 20.0)]
    {
        results.extend([1, 10, 100].map(|agents| row(series, agents, fixed + per_agent * agents as f64)));
    }
    let report = serde_json::json!({"scenario": "tick", "description": "", "floors": [],
        "results": results, "ratios": []});
    let folder = tempfile::tempdir().unwrap();
    let (json, svg) = (folder.path().join("tick.json"), folder.path().join("tick.svg"));
    std::fs::write(&json, report.to_string()).unwrap();
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
    for text in
        ["p50 per agent vs agents", "agents in the tick", "rules", "WebSocket agent", "FastAPI baseline"]
    {
        assert!(drawn.contains(text), "the chart says {text:?}");
    }
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

#[test]
fn bench_fleet_steps_through_nats_beside_one_bridge_and_calls_across_nodes() {
    let report = bench(&["fleet", "--steps", "20", "--calls", "20"]);
    let labels = |key: &str| -> Vec<String> {
        report[key].as_array().unwrap().iter().map(|row| row["label"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(labels("floors"), ["one bridge, 4 agents", "/lua/call on the game's node"]);
    assert_eq!(labels("results"), ["fleet: 4 bridges, 4 workers", "/lua/call through another node"]);
    for key in ["floors", "results"] {
        let stepped = &report[key][0];
        assert_eq!((stepped["concurrency"].as_u64(), stepped["calls"].as_u64()), (Some(64), Some(64 * 20)));
    }
    let ratios = report["ratios"].as_array().unwrap();
    assert_eq!(ratios.len(), 3);
    assert!((ratios[0]["target"].as_f64().unwrap() - 1.0 / 0.7).abs() < 1e-9, "≥ 0.7× the single bridge");
    assert!(ratios.iter().all(|ratio| ratio["value"].as_f64().unwrap() > 0.0), "{ratios:?}");
}
