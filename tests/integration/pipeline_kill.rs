//! SIGKILL of `dtm-studio run` while it embeds, trains, merges and evaluates: each time the next
//! `run` takes over, keeps what was finished untouched, and in the end the run directory holds no
//! half-written file.

use crate::pipeline::project;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `dtm-studio run DIR` and kills it with SIGKILL `after` the log line announcing `stage`.
/// Returns whether the line was seen (the process may have ended before).
fn kill_during(dir: &Path, stage: &str, after: Duration) -> bool {
    let mut child =
        Command::new(env!("CARGO_BIN_EXE_dtm-studio")).args(["run"]).arg(dir).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let marker = format!("[{stage}] started");
    let mut seen = false;
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if line.contains(&marker) {
            seen = true;
            std::thread::sleep(after);
            let _ = child.kill();
            break;
        }
    }
    let _ = child.wait();
    seen
}

/// Every finished stage's record and output files, with their contents.
fn finished(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let stages = dir.join(".dtm/stages");
    for entry in std::fs::read_dir(&stages).into_iter().flatten().flatten() {
        let record: serde_json::Value = serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
        if record["outcome"] == "done" {
            out.push((entry.path(), std::fs::read(entry.path()).unwrap()));
        }
    }
    out.sort();
    out
}

/// Files in the tree whose names mark a half-written temporary.
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let (p, name) = (entry.path(), entry.file_name().to_string_lossy().into_owned());
            if name.contains(".tmp") || name.contains(".partial-") {
                found.push(p.clone());
            }
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    found
}

#[test]
fn pipeline_survives_sigkill_in_every_kind_of_stage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    project(dir, "0.5, 0.5", 60);
    let mut kills = Vec::new();
    for (stage, after) in [("embed", 0), ("train:vanilla", 400), ("train:sub-1", 300), ("merge:average", 0), ("eval:sub-0:arc", 0)] {
        let before = finished(dir);
        let seen = kill_during(dir, stage, Duration::from_millis(after));
        kills.push((stage, seen));
        // What was finished before the kill is still there, byte for byte.
        let after_kill = finished(dir);
        for (path, bytes) in &before {
            assert!(after_kill.iter().any(|(p, b)| p == path && b == bytes), "{stage}: {} changed", path.display());
        }
    }
    assert!(kills.iter().all(|(_, seen)| *seen), "every stage was reached: {kills:?}");
    let before = finished(dir);
    let out = Command::new(env!("CARGO_BIN_EXE_dtm-studio")).args(["run"]).arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let after = finished(dir);
    for (path, bytes) in &before {
        assert!(after.iter().any(|(p, b)| p == path && b == bytes), "{} was redone", path.display());
    }
    assert!(leftovers(dir).is_empty(), "{:?}", leftovers(dir));
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("train/vanilla/trainer_state.json")).unwrap()).unwrap();
    assert_eq!(state["global_step"], 60);
    let status = Command::new(env!("CARGO_BIN_EXE_dtm-studio")).args(["status", "--json"]).arg(dir).output().unwrap();
    let stages: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(stages.as_array().unwrap().iter().all(|s| s["state"] == "done"), "{stages}");
}
