//! The diagonal empirical Fisher equals the mean over examples of squared finite-difference
//! gradients of each example's loss with respect to the adapted weight (f64, tiny Llama).

use crate::common::fixture;
use candle_core::{DType, Device, Tensor};
use dtm_studio::engine::job::{CancelToken, EventSink};
use dtm_studio::engine::merge::fisher::{compute_fisher, FisherDiagonal, FisherExample};
use dtm_studio::engine::model::adapter::LoraAdapter;
use dtm_studio::engine::model::safetensors_file::{load_safetensors, weight_files};
use dtm_studio::engine::model::weights::Weights;
use dtm_studio::engine::model::{CausalLm, ModelConfig};
use std::collections::HashMap;

fn base_f64() -> (ModelConfig, HashMap<String, Tensor>) {
    let dir = fixture("tiny-llama");
    let config = ModelConfig::from_hf_file(&dir.join("config.json")).unwrap();
    let mut w = Weights::new(&dir);
    load_safetensors(&weight_files(&dir).unwrap(), &mut w, &Device::Cpu).unwrap();
    let map = w.names().into_iter().map(|n| (n.clone(), w.get(&n).unwrap().to_dtype(DType::F64).unwrap())).collect();
    (config, map)
}

fn example_loss(config: &ModelConfig, base: &HashMap<String, Tensor>, adapter: &LoraAdapter, ex: &FisherExample) -> f64 {
    let mut map = base.clone();
    for (module, p) in &adapter.modules {
        let name = format!("{module}.weight");
        let delta = (p.b.to_dtype(DType::F64).unwrap().matmul(&p.a.to_dtype(DType::F64).unwrap()).unwrap() * p.scale).unwrap();
        map.insert(name.clone(), (&base[&name] + delta).unwrap());
    }
    let mut w = Weights::from_map(map, &fixture("tiny-llama"));
    let model = CausalLm::from_weights(config, &mut w, DType::F64, &Device::Cpu).unwrap();
    let input = Tensor::new(&ex.ids[..ex.ids.len() - 1], &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    let logits = model.forward(&input).unwrap().squeeze(0).unwrap();
    let pos: Vec<u32> = (1..ex.ids.len()).filter(|&t| ex.targets[t]).map(|t| (t - 1) as u32).collect();
    let labels: Vec<u32> = pos.iter().map(|&p| ex.ids[p as usize + 1]).collect();
    let picked = logits.index_select(&Tensor::new(pos.as_slice(), &Device::Cpu).unwrap(), 0).unwrap();
    candle_nn::loss::cross_entropy(&picked, &Tensor::new(labels.as_slice(), &Device::Cpu).unwrap()).unwrap().to_scalar::<f64>().unwrap()
}

#[test]
fn merge_fisher_matches_squared_finite_difference_gradients() {
    let (config, base) = base_f64();
    let adapter = LoraAdapter::load(&fixture("merge-tiny").join("sub-1")).unwrap();
    let examples = vec![
        FisherExample { ids: vec![5, 17, 42, 99, 3, 250, 7], targets: vec![false, false, false, true, true, true, true] },
        FisherExample { ids: vec![11, 12, 13, 14, 15, 16], targets: vec![false, true, true, true, true, true] },
    ];
    let fisher =
        compute_fisher(&config, &base, &adapter, &examples, DType::F64, &Device::Cpu, &EventSink::discard(), &CancelToken::new()).unwrap();
    assert_eq!(fisher.examples, 2);
    assert_eq!(fisher.tensors.len(), adapter.modules.len());
    let name = "model.layers.1.mlp.down_proj.weight";
    let f = fisher.tensors[name].to_dtype(DType::F64).unwrap().to_vec2::<f64>().unwrap();
    let eps = 1e-5;
    for (i, j) in [(0usize, 0usize), (7, 31), (63, 127)] {
        let mut squares = 0.0;
        for ex in &examples {
            let mut plus = base.clone();
            let mut minus = base.clone();
            let w = base[name].to_vec2::<f64>().unwrap();
            for (map, sign) in [(&mut plus, 1.0), (&mut minus, -1.0)] {
                let mut v = w.clone();
                v[i][j] += sign * eps;
                map.insert(name.to_string(), Tensor::new(v, &Device::Cpu).unwrap());
            }
            let g = (example_loss(&config, &plus, &adapter, ex) - example_loss(&config, &minus, &adapter, ex)) / (2.0 * eps);
            squares += g * g;
        }
        let want = squares / examples.len() as f64;
        assert!((f[i][j] - want).abs() < 1e-6 * want.max(1e-3), "F[{i},{j}] = {} but finite differences give {want}", f[i][j]);
    }
    // Round trip through the file the merge reads.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fisher.safetensors");
    fisher.save(&path).unwrap();
    let back = FisherDiagonal::load(&path).unwrap();
    assert_eq!(back.examples, 2);
    assert_eq!(back.tensors[name].dims(), &[64, 128]);
}

/// Copies the merge fixture's adapter `name` into `dir`.
fn adapter_copy(name: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let out = dir.join(name);
    std::fs::create_dir_all(&out).unwrap();
    for entry in std::fs::read_dir(fixture("merge-tiny").join(name)).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, out.join(p.file_name().unwrap())).unwrap();
    }
    out
}

#[test]
fn merge_fisher_from_files_on_each_portion_then_merge() {
    use dtm_studio::engine::data::prompt::PromptOptions;
    use dtm_studio::engine::merge::fisher_run::{run_fisher, FisherRequest};
    use dtm_studio::engine::merge::{run_merge, MergeMethod, MergeOutput, MergeRequest, MergeSpec};
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<serde_json::Value> = (0..8)
        .map(|i| {
            let (instruction, output) = if i < 4 {
                (format!("Add {i} and {i}."), format!("{}", 2 * i))
            } else {
                (format!("Name colour {i}."), "Blue and green.".to_string())
            };
            serde_json::json!({"instruction": instruction, "input": "", "output": output})
        })
        .collect();
    let data = dir.path().join("data.json");
    std::fs::write(&data, serde_json::to_string(&rows).unwrap()).unwrap();
    let request = |adapter: &std::path::Path, rows: &str, samples: usize| FisherRequest {
        base: fixture("tiny-llama").to_string_lossy().into_owned(),
        adapter: adapter.to_path_buf(),
        data: data.clone(),
        data_options: Default::default(),
        rows: Some(rows.to_string()),
        prompt: PromptOptions { max_len: 512, ..Default::default() },
        samples,
        seed: 0,
        device: Device::Cpu,
    };
    let (sub0, sub2) = (adapter_copy("sub-0", dir.path()), adapter_copy("sub-2", dir.path()));
    for sub in [&sub0, &sub2] {
        let _ = std::fs::remove_file(sub.join("fisher.safetensors"));
    }
    let (f0, path0) = run_fisher(&request(&sub0, "0-3", 64), &EventSink::discard(), &CancelToken::new()).unwrap();
    assert_eq!((f0.examples, path0.clone()), (4, sub0.join("fisher.safetensors")));
    let adapter = LoraAdapter::load(&sub0).unwrap();
    assert_eq!(f0.tensors.len(), adapter.modules.len());
    let values = |f: &FisherDiagonal| -> Vec<f32> {
        let mut names: Vec<&String> = f.tensors.keys().collect();
        names.sort();
        names.into_iter().flat_map(|n| f.tensors[n].flatten_all().unwrap().to_vec1::<f32>().unwrap()).collect()
    };
    let v0 = values(&f0);
    assert!(v0.iter().all(|v| v.is_finite() && *v >= 0.0) && v0.iter().any(|v| *v > 0.0));
    // Another portion gives other diagonals; a sample of one example uses one example.
    let (other, _) = run_fisher(&request(&sub0, "4-7", 64), &EventSink::discard(), &CancelToken::new()).unwrap();
    assert!(crate::common::max_abs_diff(&v0, &values(&other)) > 0.0);
    let (one, _) = run_fisher(&request(&sub0, "0-3", 1), &EventSink::discard(), &CancelToken::new()).unwrap();
    assert_eq!(one.examples, 1);
    // A portion outside the data is refused, naming the selection.
    let err = run_fisher(&request(&sub2, "6-9", 64), &EventSink::discard(), &CancelToken::new()).unwrap_err().to_string();
    assert!(err.contains("'6-9'") && err.contains("out of range"), "{err}");
    // merge --method fisher names the adapter folder that lacks its file, then merges once both have one.
    let merge = |out: &str| MergeRequest {
        base: fixture("tiny-llama").to_string_lossy().into_owned(),
        adapters: vec![sub0.clone(), sub2.clone()],
        spec: MergeSpec::new(MergeMethod::Fisher),
        output: MergeOutput::Adapter,
        out: dir.path().join(out),
        full: Default::default(),
        overwrite: false,
    };
    let missing = run_merge(&merge("m1"), &EventSink::discard(), &CancelToken::new()).unwrap_err().to_string();
    assert!(missing.contains("sub-2") && missing.contains("fisher stage"), "{missing}");
    run_fisher(&request(&sub2, "4-7", 64), &EventSink::discard(), &CancelToken::new()).unwrap();
    run_merge(&merge("m2"), &EventSink::discard(), &CancelToken::new()).unwrap();
    assert!(dir.path().join("m2").join("adapter_model.safetensors").is_file());
}
