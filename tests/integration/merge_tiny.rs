//! Merging on the tiny Llama with three PEFT adapters of different ranks, targets and scales
//! (scripts/crosscheck/merge_tiny_reference.py): every method's full merge gives PyTorch's
//! logits; exact adapters equal the full merge; SVD adapters report an error that falls with
//! rank; weight 1 on one adapter reproduces it; equal weights give the plain average.

use crate::common::{fixture, max_abs_diff, read_json};
use candle_core::{DType, Device, Tensor};
use dtm_studio::engine::job::{CancelToken, EventSink};
use dtm_studio::engine::merge::full::FullOptions;
use dtm_studio::engine::merge::spec::{parse_weights, ModuleOverride};
use dtm_studio::engine::merge::{run_merge, MergeMethod, MergeOutcome, MergeOutput, MergeRequest, MergeSession, MergeSpec};
use dtm_studio::engine::model::adapter::LoraAdapter;
use dtm_studio::engine::model::safetensors_file::{load_safetensors, weight_files};
use dtm_studio::engine::model::weights::Weights;
use dtm_studio::engine::model::{load_model, LoadOptions};
use std::path::{Path, PathBuf};

fn base() -> String {
    fixture("tiny-llama").to_string_lossy().into_owned()
}

fn adapters(idx: &[usize]) -> Vec<PathBuf> {
    idx.iter().map(|i| fixture("merge-tiny").join(format!("sub-{i}"))).collect()
}

fn ids() -> Vec<u32> {
    serde_json::from_value(read_json(&fixture("merge-tiny").join("reference.json"))["input_ids"].clone()).unwrap()
}

fn logits(model: &Path, adapter: Option<PathBuf>) -> Vec<f32> {
    let opts = LoadOptions { device: Device::Cpu, dtype: Some(DType::F32), adapter, ..Default::default() };
    let loaded = load_model(model.to_str().unwrap(), &opts).unwrap_or_else(|e| panic!("{e}"));
    let input = Tensor::new(ids().as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    loaded.model.forward(&input).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn merge(spec: MergeSpec, idx: &[usize], output: MergeOutput, out: &Path) -> MergeOutcome {
    let req = MergeRequest {
        base: base(),
        adapters: adapters(idx),
        spec,
        output,
        out: out.to_path_buf(),
        full: FullOptions::default(),
        overwrite: true,
    };
    run_merge(&req, &EventSink::discard(), &CancelToken::new()).unwrap_or_else(|e| panic!("{e}"))
}

/// A reference case's PyTorch logits, flattened.
fn reference_logits(case: &serde_json::Value) -> Vec<f32> {
    case["logits"].as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32)).collect()
}

fn spec_of(case: &serde_json::Value) -> MergeSpec {
    let mut spec = MergeSpec::new(case["method"].as_str().unwrap().parse().unwrap());
    spec.weights = Some(parse_weights(case["weights"].as_str().unwrap()).unwrap());
    spec.normalize = case.get("normalize").and_then(|v| v.as_bool());
    spec.density = case.get("density").and_then(|v| v.as_f64()).map(|d| vec![d]);
    spec.lambda = case.get("lambda").and_then(|v| v.as_f64()).unwrap_or(1.0);
    if let Some(os) = case.get("overrides").and_then(|v| v.as_array()) {
        spec.overrides =
            os.iter().map(|o| ModuleOverride::parse(&format!("{}={}", o[0].as_str().unwrap(), o[1].as_str().unwrap())).unwrap()).collect();
    }
    spec
}

fn case_adapters(case: &serde_json::Value) -> Vec<usize> {
    serde_json::from_value(case["adapters"].clone()).unwrap()
}

#[test]
fn merge_full_models_match_pytorch_for_every_method() {
    let reference = read_json(&fixture("merge-tiny").join("reference.json"));
    for case in reference["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("merged");
        merge(spec_of(case), &case_adapters(case), MergeOutput::Full, &out);
        let want = reference_logits(case);
        let got = logits(&out, None);
        let d = max_abs_diff(&got, &want);
        eprintln!("{name}: max |logit - PyTorch| {d:.2e}");
        assert!(d < 2e-4, "{name}: merged model differs from PyTorch by {d}");
        assert!(out.join("merge.yaml").is_file() && out.join("tokenizer.json").is_file() && out.join("generation_config.json").is_file());
    }
}

#[test]
fn merge_exact_adapters_equal_the_full_merge_and_concatenate_ranks() {
    let reference = read_json(&fixture("merge-tiny").join("reference.json"));
    for name in ["linear", "task-arithmetic", "lora-param-average", "linear-gradient-override"] {
        let case = reference["cases"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("adapter");
        let outcome = merge(spec_of(case), &case_adapters(case), MergeOutput::Adapter, &out);
        let report = outcome.adapter.unwrap();
        assert!(report.modules.iter().all(|m| m.exact && m.rel_error == 0.0), "{name}");
        let want = reference_logits(case);
        let d = max_abs_diff(&logits(&fixture("tiny-llama"), Some(out.clone())), &want);
        eprintln!("{name}: adapter max |logit - PyTorch| {d:.2e}");
        assert!(d < 2e-4, "{name}: merged adapter differs by {d}");
        if name == "linear" {
            // gate_proj of layer 1 is touched by all three (4 + 2 + 4); q_proj only by sub-0.
            let rank = |m: &str| report.modules.iter().find(|r| r.module == m).unwrap().rank;
            assert_eq!(rank("model.layers.1.mlp.gate_proj"), 10);
            assert_eq!(rank("model.layers.0.mlp.gate_proj"), 8);
            assert_eq!(rank("model.layers.0.self_attn.q_proj"), 4);
            let cfg = read_json(&out.join("adapter_config.json"));
            assert_eq!(cfg["peft_type"], "LORA");
            assert!(!cfg["rank_pattern"].as_object().unwrap().is_empty(), "{cfg}");
        }
    }
}

#[test]
fn merge_svd_adapter_error_falls_with_rank() {
    let mut errors = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    let mut spec = MergeSpec::new(MergeMethod::Ties);
    spec.density = Some(vec![0.5]);
    merge(spec.clone(), &[0, 1, 2], MergeOutput::Full, &full);
    let want = logits(&full, None);
    let mut logit_diffs = Vec::new();
    for rank in [1, 4, 16, 64] {
        let out = dir.path().join(format!("r{rank}"));
        spec.adapter_rank = Some(rank);
        let report = merge(spec.clone(), &[0, 1, 2], MergeOutput::Adapter, &out).adapter.unwrap();
        errors.push(report.max_rel_error);
        logit_diffs.push(max_abs_diff(&logits(&fixture("tiny-llama"), Some(out)), &want));
    }
    eprintln!("ties SVD adapter: max relative error by rank 1/4/16/64 {errors:?}, logit diff {logit_diffs:?}");
    assert!(errors.windows(2).all(|w| w[1] < w[0]), "{errors:?}");
    assert!(errors[0] > 0.1 && errors[3] < 1e-5, "{errors:?}");
    assert!(logit_diffs[3] < 1e-3 && logit_diffs[0] > logit_diffs[3], "{logit_diffs:?}");
}

fn base_weights() -> Weights {
    let dir = fixture("tiny-llama");
    let mut w = Weights::new(&dir);
    load_safetensors(&weight_files(&dir).unwrap(), &mut w, &Device::Cpu).unwrap();
    w
}

fn merged_tensors(dir: &Path) -> Weights {
    let mut w = Weights::new(dir);
    load_safetensors(&weight_files(dir).unwrap(), &mut w, &Device::Cpu).unwrap();
    w
}

fn flat(t: &Tensor) -> Vec<f32> {
    t.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1().unwrap()
}

#[test]
fn merge_weight_one_reproduces_that_adapter_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    let mut spec = MergeSpec::new(MergeMethod::Linear);
    spec.weights = Some(parse_weights("0,1,0").unwrap());
    merge(spec, &[0, 1, 2], MergeOutput::Full, &out);
    let mut expected = base_weights();
    LoraAdapter::load(&adapters(&[1])[0]).unwrap().merge_into(&mut expected).unwrap();
    let got = merged_tensors(&out);
    for name in expected.names() {
        let d = max_abs_diff(&flat(got.get(&name).unwrap()), &flat(expected.get(&name).unwrap()));
        assert!(d < 1e-6, "{name}: {d}");
    }
}

#[test]
fn merge_equal_weights_reproduce_the_plain_average() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    merge(MergeSpec::new(MergeMethod::Linear), &[0, 1, 2], MergeOutput::Full, &out);
    let got = merged_tensors(&out);
    let singles: Vec<Weights> = adapters(&[0, 1, 2])
        .iter()
        .map(|a| {
            let mut w = base_weights();
            LoraAdapter::load(a).unwrap().merge_into(&mut w).unwrap();
            w
        })
        .collect();
    for name in got.names() {
        let avg: Vec<f32> = (0..flat(got.get(&name).unwrap()).len())
            .map(|i| singles.iter().map(|w| flat(w.get(&name).unwrap())[i]).sum::<f32>() / 3.0)
            .collect();
        let d = max_abs_diff(&flat(got.get(&name).unwrap()), &avg);
        assert!(d < 1e-5, "{name}: {d}");
    }
}

#[test]
fn merge_session_reweights_in_memory_like_the_written_model() {
    let session = MergeSession::open(&base(), &adapters(&[0, 1, 2])).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (i, weights) in ["0.2,0.5,0.3", "1,0,0"].into_iter().enumerate() {
        let mut spec = MergeSpec::new(MergeMethod::Linear);
        spec.weights = Some(parse_weights(weights).unwrap());
        let model = session.merged_model(&spec, DType::F32, &Device::Cpu).unwrap();
        let input = Tensor::new(ids().as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
        let got = model.forward(&input).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let out = dir.path().join(format!("m{i}"));
        merge(spec, &[0, 1, 2], MergeOutput::Full, &out);
        let d = max_abs_diff(&got, &logits(&out, None));
        assert!(d < 1e-5, "{weights}: {d}");
    }
    // The LoRA-attached fast path gives the dense merge's logits for every exact method.
    let input = Tensor::new(ids().as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    for (method, weights) in
        [(MergeMethod::Linear, "0.2,0.5,0.3"), (MergeMethod::TaskArithmetic, "1,-0.5,2"), (MergeMethod::LoraParamAverage, "1,0,1")]
    {
        let mut spec = MergeSpec::new(method);
        spec.weights = Some(parse_weights(weights).unwrap());
        let run = |m: dtm_studio::engine::model::CausalLm| m.forward(&input).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        if method == MergeMethod::LoraParamAverage {
            // sub-1 has another rank: parameter averaging is refused on both paths.
            assert!(session.lora_model(&spec, DType::F32, &Device::Cpu).is_err());
            continue;
        }
        let dense = run(session.merged_model(&spec, DType::F32, &Device::Cpu).unwrap());
        let lora = run(session.lora_model(&spec, DType::F32, &Device::Cpu).unwrap());
        let d = max_abs_diff(&dense, &lora);
        assert!(d < 1e-4, "{method}: LoRA-attached merge differs from the dense one by {d}");
    }
}

#[test]
fn merge_shards_past_the_threshold_with_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sharded");
    let req = MergeRequest {
        base: base(),
        adapters: adapters(&[0, 2]),
        spec: MergeSpec::new(MergeMethod::Linear),
        output: MergeOutput::Full,
        out: out.clone(),
        full: FullOptions { dtype: Some(safetensors::Dtype::BF16), max_shard_bytes: 40_000 },
        overwrite: false,
    };
    let outcome = run_merge(&req, &EventSink::discard(), &CancelToken::new()).unwrap();
    let full = outcome.full.unwrap();
    assert!(full.shards > 1 && out.join("model.safetensors.index.json").is_file(), "{full:?}");
    assert!(!out.join("model.safetensors").exists());
    assert_eq!(read_json(&out.join("config.json"))["torch_dtype"], "bfloat16");
    let w = merged_tensors(&out);
    assert_eq!(w.get("model.layers.0.mlp.up_proj.weight").unwrap().dtype(), DType::BF16);
    let unsharded = dir.path().join("one");
    merge(MergeSpec::new(MergeMethod::Linear), &[0, 2], MergeOutput::Full, &unsharded);
    // Every bf16 tensor is the f32 merge rounded to nearest even.
    let f32_merge = merged_tensors(&unsharded);
    assert_eq!(w.len(), f32_merge.len());
    for name in f32_merge.names() {
        let want = flat(&f32_merge.get(&name).unwrap().to_dtype(DType::BF16).unwrap());
        assert_eq!(flat(w.get(&name).unwrap()), want, "{name}");
    }
}

#[test]
fn merge_dare_is_seeded_and_reduces_to_linear_and_ties_at_density_one() {
    let session = MergeSession::open(&base(), &adapters(&[0, 1, 2])).unwrap();
    let tensors = |method: MergeMethod, density: f64, seed: u64, normalize: bool| {
        let mut spec = MergeSpec::new(method);
        spec.weights = Some(parse_weights("0.5,0.3,0.2").unwrap());
        spec.normalize = Some(normalize);
        spec.seed = seed;
        if method != MergeMethod::Linear {
            spec.density = Some(vec![density]);
        }
        let mut all: Vec<(String, Vec<f32>)> = session.merged_tensors(&spec).unwrap().into_iter().map(|(n, t)| (n, flat(&t))).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all.into_iter().flat_map(|(_, v)| v).collect::<Vec<f32>>()
    };
    let linear = tensors(MergeMethod::Linear, 1.0, 0, false);
    assert!(max_abs_diff(&tensors(MergeMethod::DareLinear, 1.0, 0, false), &linear) < 1e-6);
    assert!(max_abs_diff(&tensors(MergeMethod::DareTies, 1.0, 0, true), &tensors(MergeMethod::Ties, 1.0, 0, true)) < 1e-6);
    let a = tensors(MergeMethod::DareLinear, 0.5, 7, false);
    assert_eq!(a, tensors(MergeMethod::DareLinear, 0.5, 7, false), "same seed, same masks");
    assert!(max_abs_diff(&a, &tensors(MergeMethod::DareLinear, 0.5, 8, false)) > 1e-3, "another seed, other masks");
    // DARE is unbiased: E[dare delta] = linear delta, so <dare, linear> / <linear, linear> ~ 1.
    assert_eq!(linear.len(), a.len());
    let mut zero = MergeSpec::new(MergeMethod::Linear);
    zero.weights = Some(parse_weights("0,0,0").unwrap());
    zero.normalize = Some(false);
    let mut w0: Vec<(String, Vec<f32>)> = session.merged_tensors(&zero).unwrap().into_iter().map(|(n, t)| (n, flat(&t))).collect();
    w0.sort_by(|x, y| x.0.cmp(&y.0));
    let w0: Vec<f32> = w0.into_iter().flat_map(|(_, v)| v).collect();
    let (mut dot, mut norm) = (0f64, 0f64);
    for ((d, l), b) in a.iter().zip(&linear).zip(&w0) {
        let (dd, ll) = ((d - b) as f64, (l - b) as f64);
        dot += dd * ll;
        norm += ll * ll;
    }
    assert!(norm > 0.0 && (dot / norm - 1.0).abs() < 0.05, "<dare, linear> / |linear|^2 = {}", dot / norm);
}
