//! Merging into the real SmolLM2-135M (GGUF base, de-quantised): the full merge writes an f32
//! HF folder that loads and gives the logits of the in-memory merge, and re-weighting in memory
//! reads no file. Skipped when SmolLM2 is absent.

use crate::common::{max_abs_diff, smollm2_or_skip};
use candle_core::{DType, Device, Tensor};
use dtm_studio::engine::job::{CancelToken, EventSink};
use dtm_studio::engine::merge::base::BaseModel;
use dtm_studio::engine::merge::full::FullOptions;
use dtm_studio::engine::merge::spec::parse_weights;
use dtm_studio::engine::merge::synthetic::{write_random_adapter, SyntheticAdapter};
use dtm_studio::engine::merge::{run_merge, MergeMethod, MergeOutput, MergeRequest, MergeSession, MergeSpec};
use dtm_studio::engine::model::{load_model, LoadOptions};
use std::time::Instant;

#[test]
fn merge_smollm2_gguf_full_merge_loads_and_matches_the_session() {
    let Some(gguf) = smollm2_or_skip("merge_smollm2_gguf_full_merge_loads_and_matches_the_session") else { return };
    let base = gguf.to_string_lossy().into_owned();
    let dir = tempfile::tempdir().unwrap();
    let shapes = BaseModel::open(&base).unwrap().shapes();
    let adapters: Vec<_> = (0..2)
        .map(|i| {
            let spec = SyntheticAdapter {
                rank: 8,
                alpha: 16.0,
                targets: vec!["gate_proj".into(), "down_proj".into(), "q_proj".into()],
                b_std: 0.01,
                seed: i,
            };
            write_random_adapter(&dir.path().join(format!("sub-{i}")), &shapes, &spec, &base).unwrap()
        })
        .collect();
    let mut spec = MergeSpec::new(MergeMethod::Linear);
    spec.weights = Some(parse_weights("0.7,0.3").unwrap());
    let out = dir.path().join("merged");
    let req = MergeRequest {
        base: base.clone(),
        adapters: adapters.clone(),
        spec: spec.clone(),
        output: MergeOutput::Full,
        out: out.clone(),
        full: FullOptions::default(),
        overwrite: false,
    };
    let outcome = run_merge(&req, &EventSink::discard(), &CancelToken::new()).unwrap();
    let full = outcome.full.unwrap();
    assert_eq!((full.dtype.as_str(), full.merged_tensors), ("float32", 90), "{full:?}");
    for f in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "merge.yaml"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let opts = LoadOptions { device: Device::Cpu, dtype: Some(DType::F32), adapter: None, ..Default::default() };
    let written = load_model(out.to_str().unwrap(), &opts).unwrap();
    let ids = written.tokenizer.encode("The capital of France is Paris.", false).unwrap();
    let input = Tensor::new(ids.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    let from_disk = written.model.forward(&input).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();

    let session = MergeSession::open(&base, &adapters).unwrap();
    let in_memory = session.merged_model(&spec, DType::F32, &Device::Cpu).unwrap();
    let got = in_memory.forward(&input).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let d = max_abs_diff(&got, &from_disk);
    assert!(d < 1e-4, "written folder and in-memory merge differ by {d}");

    // Re-weighting reads no file: time a new weight vector end to end (merged model ready).
    spec.weights = Some(parse_weights("0.2,0.8").unwrap());
    let t = Instant::now();
    let reweighted = session.merged_model(&spec, DType::F32, &Device::Cpu).unwrap();
    let secs = t.elapsed().as_secs_f64();
    eprintln!("SmolLM2 re-weighting of 2 adapters (90 modules) in memory: {secs:.3} s");
    let other = reweighted.forward(&input).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(max_abs_diff(&other, &got) > 1e-4, "new weights must change the model");
    assert!(secs < 10.0, "re-weighting took {secs} s");
    let t = Instant::now();
    let attached = session.lora_model(&spec, DType::F32, &Device::Cpu).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let via_lora = attached.forward(&input).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let d = max_abs_diff(&via_lora, &other);
    eprintln!("SmolLM2 re-weighting as attached LoRA: {secs:.3} s (max logit diff to the dense merge {d:.1e})");
    assert!(d < 1e-3, "LoRA-attached merge differs by {d}");
}
