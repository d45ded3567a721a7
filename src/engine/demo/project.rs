//! The demo's project folder: the generated data and benchmark files, and a `dtm.toml` written by
//! `init`'s own code with the demo's settings applied through `set`, so the demo is a project
//! like any other (open it in the app, change a merge weight, run it again).

use super::benches::{all_benches, BenchFiles};
use super::error::DemoError;
use super::families::instruction_rows;
use super::world::World;
use super::{DemoRequest, MARKER};
use crate::engine::fsutil::write_atomic;
use crate::engine::pipeline::{init::project_text, set_settings, PROJECT_FILE};
use std::path::Path;
use toml_edit::Value;

/// The base model's folder inside the project.
pub const BASE_DIR: &str = "base-model";
/// The instruction data file inside the project.
pub const DATA_FILE: &str = "data/instructions.json";
/// The benchmarks' folder inside the project.
pub const BENCH_DIR: &str = "bench";

/// The folder must be empty, missing, or a demo project made with the same seed and size.
pub fn check_folder(req: &DemoRequest) -> Result<(), DemoError> {
    let dir = &req.dir;
    if !dir.exists() {
        return Ok(());
    }
    if let Some(marker) = super::read_marker(dir) {
        let size = serde_json::to_value(&req.size).unwrap_or_default();
        if marker.seed != req.seed || marker.size != size {
            return Err(DemoError::Folder {
                path: dir.clone(),
                detail: format!(
                    "holds the demo made with seed {}{}; choose another folder (--out) for seed {}",
                    marker.seed,
                    if marker.size != size { " and another size" } else { "" },
                    req.seed
                ),
            });
        }
        return Ok(());
    }
    let empty = std::fs::read_dir(dir).map_err(|e| DemoError::io(dir, e))?.next().is_none();
    if empty {
        Ok(())
    } else {
        Err(DemoError::Folder {
            path: dir.clone(),
            detail: format!("is not empty and holds no demo ({MARKER}); choose an empty or new folder for the demo"),
        })
    }
}

/// What [`write_world_files`] wrote.
#[derive(Debug, Clone)]
pub struct WorldFiles {
    /// The benchmarks (name and entry file).
    pub benches: Vec<BenchFiles>,
    /// Every text the data and benchmarks hold (for the vocabulary).
    pub texts: Vec<String>,
}

/// Every string inside a JSON value.
fn strings_in(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings_in(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| strings_in(x, out)),
        _ => {}
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), DemoError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| DemoError::io(parent, e))?;
    }
    // Unchanged files are left alone, so their modification times (and the hash cache) stay.
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    write_atomic(path, bytes).map_err(|e| DemoError::io(path, e))
}

/// Writes the instruction data and the benchmarks of `world`.
pub fn write_world_files(req: &DemoRequest, world: &World) -> Result<WorldFiles, DemoError> {
    let size = &req.size;
    let rows = instruction_rows(world, size.rows_per_family);
    let mut texts = Vec::new();
    strings_in(&serde_json::Value::Array(rows.clone()), &mut texts);
    write(&req.dir.join(DATA_FILE), &serde_json::to_vec_pretty(&rows).unwrap_or_default())?;
    let benches = all_benches(world, size.knowledge_items, size.reasoning_items, size.probe_items);
    for bench in &benches {
        for (name, text) in &bench.files {
            write(&req.dir.join(BENCH_DIR).join(name), text.as_bytes())?;
            for line in text.lines().filter(|l| l.starts_with('{')) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                    strings_in(&v, &mut texts);
                }
            }
        }
    }
    Ok(WorldFiles { benches, texts })
}

/// The demo's training and split settings, applied over `init`'s defaults.
fn demo_settings(req: &DemoRequest) -> Vec<(String, Value)> {
    let mut s: Vec<(String, Value)> = vec![
        ("disperse.seed".into(), Value::from(req.seed as i64)),
        ("train.seed".into(), Value::from(req.seed as i64)),
        ("data.template".into(), Value::from("chat")),
        ("disperse.field".into(), Value::from("both")),
        ("train.targets".into(), Value::from_iter(["all-linear"])),
        ("train.lora_r".into(), Value::from(16i64)),
        ("train.lora_alpha".into(), Value::from(32.0)),
        ("train.max_len".into(), Value::from(128i64)),
        ("train.batch".into(), Value::from(8i64)),
        ("train.lr".into(), Value::from(3e-3)),
        ("train.epochs".into(), Value::from(3.0)),
        ("train.warmup".into(), Value::from(5i64)),
        ("train.eval_every".into(), Value::from(10i64)),
        ("train.save_every".into(), Value::from(0i64)),
        ("eval.ifeval.max_new_tokens".into(), Value::from(32i64)),
    ];
    if let Some(steps) = req.size.max_steps {
        s.push(("train.max_steps".into(), Value::from(steps as i64)));
    }
    s
}

/// Writes `dtm.toml` (through `init`'s text and `set`) unless the folder already has one.
pub fn write_project_file(req: &DemoRequest, benches: &[BenchFiles]) -> Result<(), DemoError> {
    let file = req.dir.join(PROJECT_FILE);
    if file.is_file() {
        return Ok(());
    }
    let init = crate::engine::pipeline::InitRequest {
        dir: req.dir.clone(),
        model: req.dir.join(BASE_DIR).to_string_lossy().into_owned(),
        data: req.dir.join(DATA_FILE),
        benchmarks: benches.iter().map(|b| (b.name.to_string(), req.dir.join(BENCH_DIR).join(&b.entry))).collect(),
        k: 4,
        preset: "quick".into(),
    };
    let text = format!(
        "# The teaching demo (seed {}): a synthetic world made by `dtm-studio demo`; see {MARKER} and\n# report/demo.md. Everything below is an ordinary project setting.\n{}",
        req.seed,
        project_text(&init)
    );
    write(&file, text.as_bytes())?;
    set_settings(&file, &demo_settings(req))?;
    Ok(())
}
