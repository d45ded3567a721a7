//! The Disperse stage end to end with the built-in encoder: embed (cached), split by every
//! method, describe the split, write and read clusters.json; and bad input (K = 0, K > rows,
//! identical texts, embeddings of other data, a missing label column), through the engine and
//! through the command line.

use crate::common::data_file;
use dtm_studio::engine::cluster::{disperse, field_values, ClusterError, ClusterInput, ClusterMethod, ClusterOptions, ClustersFile};
use dtm_studio::engine::data::split::select_rows;
use dtm_studio::engine::data::tokenize::TokenizedExample;
use dtm_studio::engine::data::{load_dataset, Dataset, LoadDataOptions};
use dtm_studio::engine::embed::{
    check_matches, embed_cached, embed_dataset, EmbedOptions, Embeddings, Encoder, EncoderRequest, HashedEncoder, TextField,
};
use dtm_studio::engine::job::{run_stage, CancelToken, EventSink, StageScope};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Three kinds of task, ten rows each, with a `category` column.
fn synthetic(dir: &Path, identical: bool) -> PathBuf {
    let topics = ["sea", "autumn", "moon", "friendship", "mountains", "rain", "city", "winter", "music", "home"];
    let mut rows = Vec::new();
    for (cat, template) in [
        ("poetry", "Write a poem about the {}"),
        ("math", "Calculate the sum of {} and 7"),
        ("translate", "Translate the word {} into French"),
    ] {
        for (i, topic) in topics.iter().enumerate() {
            let ins = if identical {
                "Say hello".to_string()
            } else {
                template.replace("{}", if cat == "math" { ["3", "14", "27", "5", "8", "19", "42", "11", "6", "90"][i] } else { topic })
            };
            rows.push(serde_json::json!({"instruction": ins, "input": "", "output": format!("answer {i}"), "category": cat}));
        }
    }
    let p = dir.join(if identical { "same.json" } else { "tasks.json" });
    std::fs::write(&p, serde_json::to_string_pretty(&rows).unwrap()).unwrap();
    p
}

fn embed(ds: &Dataset) -> Embeddings {
    let enc = Encoder::Builtin(HashedEncoder::default());
    let (sink, cancel) = (EventSink::discard(), CancelToken::new());
    let scope = StageScope { name: "embed", sink: &sink, cancel: &cancel };
    embed_dataset(ds, TextField::Instruction, &enc, &EmbedOptions::default(), &scope).unwrap()
}

fn split(ds: &Dataset, emb: &Embeddings, opts: &ClusterOptions, by: Option<&str>) -> Result<ClustersFile, ClusterError> {
    let texts: Vec<String> = ds.examples.iter().map(|e| e.instruction_text()).collect();
    let places: Vec<(usize, usize)> = ds.examples.iter().map(|e| (e.row, e.line)).collect();
    let values = by.map(|name| field_values(&ds.examples, name)).transpose()?;
    let input = ClusterInput { embeddings: emb, texts: &texts, places: &places, field_values: by.zip(values.as_deref()) };
    run_stage("cluster", &EventSink::discard(), &CancelToken::new(), |scope| disperse(&input, opts, &scope))
}

fn same_labels(a: &[u32], b: &[u32]) -> bool {
    // Equal up to a renaming of the portions.
    let mut map = std::collections::HashMap::new();
    a.iter().zip(b).all(|(x, y)| *map.entry(*x).or_insert(*y) == *y)
        && map.len() == map.values().collect::<std::collections::HashSet<_>>().len()
}

#[test]
fn disperse_every_method_on_three_kinds_of_task() {
    let dir = tempfile::tempdir().unwrap();
    let ds = load_dataset(&synthetic(dir.path(), false), &LoadDataOptions::default()).unwrap();
    let emb = embed(&ds);
    let truth: Vec<u32> = (0..30).map(|i| (i / 10) as u32).collect();

    let km = split(&ds, &emb, &ClusterOptions { k: 3, elbow: true, ..Default::default() }, None).unwrap();
    assert!(same_labels(&km.assignment, &truth), "k-means did not recover the three kinds: {:?}", km.assignment);
    assert_eq!(km.quality.sizes, vec![10, 10, 10]);
    assert!(km.quality.silhouette.unwrap() > 0.2, "{:?}", km.quality.silhouette);
    let top3: Vec<Vec<&str>> = km.portions.iter().map(|p| p.keywords.iter().take(3).map(|k| k.word.as_str()).collect()).collect();
    for word in ["poem", "calculate", "translate"] {
        assert_eq!(
            top3.iter().filter(|t| t.contains(&word)).count(),
            1,
            "'{word}' is not among the top keywords of exactly one portion: {top3:?}"
        );
    }
    for p in &km.portions {
        assert!((2..=8).contains(&p.keywords.len()), "{:?}", p.keywords);
        assert!(p.representatives.iter().all(|r| km.assignment[r.index] as usize == p.id));
        assert!(p.representatives.windows(2).all(|w| w[0].distance <= w[1].distance));
    }
    assert_eq!(km.coords_2d.len(), 30);
    assert_eq!(km.centroids.len(), 3);
    assert_eq!(km.centroids[0].len(), 384);
    let elbow = km.elbow.as_ref().unwrap();
    assert_eq!(elbow.iter().map(|e| e.k).collect::<Vec<_>>(), (2..=8).collect::<Vec<_>>());
    assert!(elbow[1].inertia < elbow[0].inertia);

    let balanced = split(&ds, &emb, &ClusterOptions { k: 3, method: ClusterMethod::Balanced, ..Default::default() }, None).unwrap();
    assert!(same_labels(&balanced.assignment, &truth));
    let bal4 = split(&ds, &emb, &ClusterOptions { k: 4, method: ClusterMethod::Balanced, ..Default::default() }, None).unwrap();
    let mut s = bal4.quality.sizes.clone();
    s.sort_unstable();
    assert_eq!(s, vec![7, 7, 8, 8]);

    let random = split(&ds, &emb, &ClusterOptions { k: 4, method: ClusterMethod::Random, seed: 5, ..Default::default() }, None).unwrap();
    let again = split(&ds, &emb, &ClusterOptions { k: 4, method: ClusterMethod::Random, seed: 5, ..Default::default() }, None).unwrap();
    assert_eq!(random.assignment, again.assignment);
    assert!(random.quality.sizes.iter().all(|&n| n == 7 || n == 8));

    let by = split(&ds, &emb, &ClusterOptions { method: ClusterMethod::Field, ..Default::default() }, Some("category")).unwrap();
    assert_eq!(by.k, 3);
    assert_eq!(by.portions.iter().map(|p| p.label.clone().unwrap()).collect::<Vec<_>>(), ["math", "poetry", "translate"]);
    assert_eq!(by.assignment[0], 1); // the first rows are poetry
    let missing = split(&ds, &emb, &ClusterOptions { method: ClusterMethod::Field, ..Default::default() }, Some("source")).unwrap_err();
    assert!(missing.to_string().contains("no field 'source'") && missing.to_string().contains("category"), "{missing}");

    let path = dir.path().join("out/clusters.json");
    km.save(&path).unwrap();
    let back = ClustersFile::load(&path).unwrap();
    assert_eq!((&back.assignment, &back.coords_2d, &back.quality.sizes), (&km.assignment, &km.coords_2d, &km.quality.sizes));
    assert_eq!(
        back.portions.iter().map(|p| &p.representatives).collect::<Vec<_>>(),
        km.portions.iter().map(|p| &p.representatives).collect::<Vec<_>>()
    );
    assert!((back.quality.inertia - km.quality.inertia).abs() < 1e-9);
}

#[test]
fn disperse_bad_k_and_identical_texts() {
    let dir = tempfile::tempdir().unwrap();
    let ds = load_dataset(&synthetic(dir.path(), false), &LoadDataOptions::default()).unwrap();
    let emb = embed(&ds);
    for method in [ClusterMethod::KMeans, ClusterMethod::Balanced, ClusterMethod::Random] {
        let zero = split(&ds, &emb, &ClusterOptions { k: 0, method, ..Default::default() }, None).unwrap_err();
        assert!(matches!(zero, ClusterError::ZeroK), "{method}: {zero}");
        let big = split(&ds, &emb, &ClusterOptions { k: 31, method, ..Default::default() }, None).unwrap_err();
        assert!(big.to_string().contains("K = 31 is larger than the number of rows (30)"), "{method}: {big}");
    }
    let same = load_dataset(&synthetic(dir.path(), true), &LoadDataOptions::default()).unwrap();
    let emb = embed(&same);
    let km = split(&same, &emb, &ClusterOptions { k: 4, ..Default::default() }, None).unwrap_err();
    assert!(km.to_string().contains("only 1 distinct") && km.to_string().contains("the method `random`"), "{km}");
    let bal = split(&same, &emb, &ClusterOptions { k: 4, method: ClusterMethod::Balanced, ..Default::default() }, None).unwrap();
    let mut s = bal.quality.sizes.clone();
    s.sort_unstable();
    assert_eq!(s, vec![7, 7, 8, 8]);
    let rnd = split(&same, &emb, &ClusterOptions { k: 4, method: ClusterMethod::Random, ..Default::default() }, None).unwrap();
    assert_eq!(rnd.rows, 30);
    assert!(rnd.coords_2d.iter().all(|c| c[0].is_finite() && c[1].is_finite()));
}

#[test]
fn disperse_embeddings_are_cached_and_checked_against_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let ds = load_dataset(&synthetic(dir.path(), false), &LoadDataOptions::default()).unwrap();
    let other = load_dataset(&synthetic(dir.path(), true), &LoadDataOptions::default()).unwrap();
    let enc = EncoderRequest { name: "builtin".into(), device: candle_core::Device::Cpu, options: EmbedOptions::default() };
    let cache = dir.path().join("cache");
    let run = |field| embed_cached(&ds, field, &enc, &cache, &EventSink::discard(), &CancelToken::new()).unwrap();
    let (first, reused) = run(TextField::Instruction);
    assert!(!reused);
    let (second, reused) = run(TextField::Instruction);
    assert!(reused);
    assert_eq!(first, second);
    let (resp, reused) = run(TextField::Response);
    assert!(!reused, "another text field must not reuse the instruction embeddings");
    assert_ne!(resp.values, first.values);
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 2);
    let err = check_matches(&first, &other, Path::new("e.safetensors")).unwrap_err().to_string();
    assert!(err.contains("made from other data") && err.contains("embed this file again"), "{err}");
}

#[test]
fn disperse_command_line_embed_then_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let data = synthetic(dir.path(), false);
    let exe = env!("CARGO_BIN_EXE_dtm-studio");
    let emb = dir.path().join("e.safetensors");
    let out = Command::new(exe).args(["embed", "--data"]).arg(&data).args(["--field", "both", "--out"]).arg(&emb).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let clusters = dir.path().join("clusters.json");
    let out = Command::new(exe)
        .args(["cluster", "--data"])
        .arg(&data)
        .arg("--embeddings")
        .arg(&emb)
        .args(["--k", "3", "--method", "balanced", "--out"])
        .arg(&clusters)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("portion 2:") && stdout.contains("silhouette"), "{stdout}");
    let file = ClustersFile::load(&clusters).unwrap();
    assert_eq!((file.k, file.field.as_str(), file.quality.sizes.clone()), (3, "both", vec![10, 10, 10]));
    // A portion selects its examples for training (`--rows clusters.json:N`).
    let ds = load_dataset(&data, &LoadDataOptions::default()).unwrap();
    let tokenized: Vec<TokenizedExample> =
        (0..ds.examples.len()).map(|i| TokenizedExample { input_ids: vec![i as u32], labels: vec![i as i64] }).collect();
    let all: Vec<usize> = (0..ds.examples.len()).collect();
    for portion in 0..3u32 {
        let spec = format!("{}:{portion}", clusters.display());
        let picked = select_rows(&ds, tokenized.clone(), &all, Some(&spec)).unwrap();
        let want: Vec<u32> = (0..30).filter(|&i| file.assignment[i as usize] == portion).collect();
        assert_eq!(picked.iter().map(|t| t.input_ids[0]).collect::<Vec<_>>(), want);
    }
    let err = select_rows(&ds, tokenized.clone(), &all, Some(&format!("{}:3", clusters.display()))).unwrap_err().to_string();
    assert!(err.contains("portion 3 does not exist"), "{err}");
    std::fs::create_dir_all(dir.path().join("other")).unwrap();
    let other = synthetic(&dir.path().join("other"), true);
    let other = load_dataset(&other, &LoadDataOptions::default()).unwrap();
    let err = select_rows(&other, tokenized, &all, Some(&format!("{}:0", clusters.display()))).unwrap_err().to_string();
    assert!(err.contains("made from other data"), "{err}");

    let bad = Command::new(exe)
        .args(["cluster", "--data"])
        .arg(&data)
        .args(["--k", "0", "--out"])
        .arg(dir.path().join("x.json"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("K = 0"), "{}", String::from_utf8_lossy(&bad.stderr));
    let field = Command::new(exe)
        .args(["cluster", "--data"])
        .arg(&data)
        .args(["--method", "field", "--out"])
        .arg(dir.path().join("y.json"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&field.stderr).contains("--by COLUMN"));
}

#[test]
fn disperse_alpaca_demo_into_four_described_portions() {
    let Some(path) = data_file("disperse_alpaca_demo_into_four_described_portions", "instruct/alpaca_en_demo.json") else { return };
    let ds = load_dataset(&path, &LoadDataOptions::default()).unwrap();
    let emb = embed(&ds);
    let r = split(&ds, &emb, &ClusterOptions::default(), None).unwrap();
    assert_eq!((r.k, r.rows, r.assignment.len()), (4, 999, 999));
    assert_eq!(r.quality.sizes.iter().sum::<usize>(), 999);
    assert!(r.quality.sizes.iter().all(|&n| n > 0));
    assert_eq!(r.projection.method, "pca-exact");
    let tops: std::collections::HashSet<&str> = r.portions.iter().map(|p| p.keywords[0].word.as_str()).collect();
    assert_eq!(tops.len(), 4, "portions share their top keyword: {tops:?}");
}

/// 100,000 rows (the demo data repeated with variations) embed and split; run with
/// `cargo nextest run --run-ignored only -E 'test(disperse_100k)'`.
#[test]
#[ignore]
fn disperse_100k_rows_builtin() {
    let Some(demo) = data_file("disperse_100k_rows_builtin", "instruct/alpaca_en_demo.json") else { return };
    let src: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(demo).unwrap()).unwrap();
    let rows: Vec<serde_json::Value> = (0..100_000)
        .map(|i| {
            let mut r = src[i % src.len()].clone();
            let ins = format!("{} (case {})", r["instruction"].as_str().unwrap_or(""), i / src.len());
            r["instruction"] = serde_json::Value::String(ins);
            r
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.json");
    std::fs::write(&p, serde_json::to_string(&rows).unwrap()).unwrap();
    let ds = load_dataset(&p, &LoadDataOptions::default()).unwrap();
    let t = std::time::Instant::now();
    let emb = embed(&ds);
    let r = split(&ds, &emb, &ClusterOptions::default(), None).unwrap();
    eprintln!("100k rows: embed + split in {:.1} s, map {}", t.elapsed().as_secs_f64(), r.projection.method);
    assert_eq!(r.rows, 100_000);
    assert_eq!(r.projection.method, "pca-randomized");
}
