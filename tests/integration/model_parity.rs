//! Tiny random Llama, Qwen2 and Mistral models give the logits PyTorch `transformers` gives
//! (reference made by scripts/crosscheck/make_tiny_models.py), through both forward paths and
//! through the KV cache.

use crate::common::{fixture, load_cpu_f32, max_abs_diff, read_json};
use candle_core::{DType, Tensor};

fn reference(name: &str) -> (Vec<Vec<u32>>, Vec<f32>) {
    let r = read_json(&fixture(name).join("reference_logits.json"));
    let ids: Vec<Vec<u32>> = serde_json::from_value(r["input_ids"].clone()).unwrap();
    let logits: Vec<Vec<Vec<f32>>> = serde_json::from_value(r["logits"].clone()).unwrap();
    (ids, logits.into_iter().flatten().flatten().collect())
}

fn check_model(name: &str) {
    let loaded = load_cpu_f32(&fixture(name));
    let (ids, expected) = reference(name);
    let input = Tensor::new(ids.clone(), loaded.model.device()).unwrap();
    let train = loaded.model.forward(&input).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let infer = loaded.model.forward_inference(&input, None).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let (d_train, d_infer) = (max_abs_diff(&train, &expected), max_abs_diff(&infer, &expected));
    eprintln!("{name}: max |logit - transformers| differentiable {d_train:.2e}, fused {d_infer:.2e}");
    assert!(d_train < 1e-4, "{name}: differentiable path differs by {d_train}");
    assert!(d_infer < 1e-4, "{name}: fused path differs by {d_infer}");

    // The KV cache: a prefix, then one token at a time, gives the same last-position logits.
    let row: Vec<u32> = ids[0].clone();
    let mut cache = loaded.model.new_cache();
    let split = 6;
    let prefix = Tensor::new(&row[..split], loaded.model.device()).unwrap().unsqueeze(0).unwrap();
    loaded.model.forward_inference(&prefix, Some(&mut cache)).unwrap();
    let vocab = loaded.model.config().vocab_size;
    for (pos, &tok) in row.iter().enumerate().skip(split) {
        let step = Tensor::new(&[tok], loaded.model.device()).unwrap().unsqueeze(0).unwrap();
        let got = loaded.model.forward_inference(&step, Some(&mut cache)).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let want = &expected[pos * vocab..(pos + 1) * vocab];
        let d = max_abs_diff(&got, want);
        assert!(d < 1e-4, "{name}: cached step at position {pos} differs by {d}");
    }
    assert_eq!(cache.len(), row.len());
}

#[test]
fn tiny_llama_with_llama3_rope_scaling_matches_transformers() {
    check_model("tiny-llama");
}

#[test]
fn tiny_qwen2_with_biases_and_tied_embeddings_matches_transformers() {
    check_model("tiny-qwen2");
}

#[test]
fn tiny_mistral_with_wide_heads_matches_transformers() {
    check_model("tiny-mistral");
}

#[test]
fn half_precision_stays_close_to_f32() {
    let (ids, expected) = reference("tiny-llama");
    for dtype in [DType::BF16, DType::F16] {
        let opts = dtm_studio::engine::model::LoadOptions { dtype: Some(dtype), ..Default::default() };
        let loaded = dtm_studio::engine::model::load_model(fixture("tiny-llama").to_str().unwrap(), &opts).unwrap();
        let input = Tensor::new(ids.clone(), loaded.model.device()).unwrap();
        let got = loaded
            .model
            .forward_inference(&input, None)
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let d = max_abs_diff(&got, &expected);
        assert!(d < 0.25, "{dtype:?} differs from f32 transformers by {d}");
    }
}
