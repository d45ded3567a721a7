//! An adapter trained and saved by DTM Studio loads in PEFT and gives the same logits there as
//! here, attached unmerged or folded into the weights (reference: scripts/crosscheck/peft_adapter_check.py).

use crate::common::{fixture, load_cpu_f32, max_abs_diff, read_json};
use candle_core::{Device, Tensor};
use dtm_studio::engine::model::adapter::LoraAdapter;
use dtm_studio::engine::model::lora::{LoraSet, LoraSpec};
use dtm_studio::engine::model::{load_model, LoadOptions};

#[test]
fn peft_gives_the_same_logits_for_our_adapter() {
    let reference = read_json(&fixture("tiny-llama-adapter").join("peft_logits.json"));
    let ids: Vec<Vec<u32>> = serde_json::from_value(reference["input_ids"].clone()).unwrap();
    let want: Vec<Vec<f32>> = serde_json::from_value(reference["logits"].clone()).unwrap();
    let want: Vec<f32> = want.into_iter().flatten().collect();
    let input = Tensor::new(ids, &Device::Cpu).unwrap();

    let mut unmerged = load_cpu_f32(&fixture("tiny-llama")).model;
    let adapter = LoraAdapter::load(&fixture("tiny-llama-adapter")).unwrap();
    let spec = LoraSpec {
        rank: adapter.config.r,
        alpha: adapter.config.lora_alpha,
        dropout: 0.0,
        targets: vec!["all-linear".into()],
        use_rslora: adapter.config.use_rslora,
    };
    unmerged.attach_lora(&LoraSet::from_adapter(&adapter, &spec, &Device::Cpu).unwrap()).unwrap();
    let got = unmerged.forward_inference(&input, None).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let d_unmerged = max_abs_diff(&got, &want);

    let opts = LoadOptions { adapter: Some(fixture("tiny-llama-adapter")), ..Default::default() };
    let merged = load_model(fixture("tiny-llama").to_str().unwrap(), &opts).unwrap().model;
    let got = merged.forward_inference(&input, None).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let d_merged = max_abs_diff(&got, &want);
    eprintln!(
        "PEFT vs DTM Studio logits: unmerged {d_unmerged:.2e}, merged {d_merged:.2e} (adapter moves logits by up to {})",
        reference["adapter_effect"]
    );
    assert!(reference["adapter_effect"].as_f64().unwrap() > 0.1, "the fixture adapter must matter");
    assert!(d_unmerged < 1e-4 && d_merged < 1e-4, "unmerged {d_unmerged}, merged {d_merged}");
}

#[test]
fn adapter_for_another_base_is_refused_naming_the_tensor() {
    let opts = LoadOptions { adapter: Some(fixture("tiny-llama-adapter")), ..Default::default() };
    let err = load_model(fixture("tiny-mistral").to_str().unwrap(), &opts).unwrap_err().to_string();
    assert!(err.contains("lora_A") && err.contains("different base model"), "{err}");
}

/// The same check on any base and adapter: set DTM_PEFT_CHECK_BASE, DTM_PEFT_CHECK_ADAPTER and
/// DTM_PEFT_CHECK_JSON (the output of peft_adapter_check.py). Skipped when they are not set.
#[test]
fn peft_check_on_a_chosen_model() {
    let var = |k: &str| std::env::var(k).ok();
    let (Some(base), Some(adapter), Some(json)) = (var("DTM_PEFT_CHECK_BASE"), var("DTM_PEFT_CHECK_ADAPTER"), var("DTM_PEFT_CHECK_JSON"))
    else {
        eprintln!("SKIPPED peft_check_on_a_chosen_model: set DTM_PEFT_CHECK_BASE, DTM_PEFT_CHECK_ADAPTER and DTM_PEFT_CHECK_JSON");
        return;
    };
    let reference = read_json(std::path::Path::new(&json));
    let ids: Vec<Vec<u32>> = serde_json::from_value(reference["input_ids"].clone()).unwrap();
    let want: Vec<f32> = serde_json::from_value::<Vec<Vec<f32>>>(reference["logits"].clone()).unwrap().into_iter().flatten().collect();
    let opts = LoadOptions { adapter: Some(adapter.into()), dtype: Some(candle_core::DType::F32), ..Default::default() };
    let model = load_model(&base, &opts).unwrap().model;
    let got =
        model.forward_inference(&Tensor::new(ids, &Device::Cpu).unwrap(), None).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let d = max_abs_diff(&got, &want);
    eprintln!("PEFT vs DTM Studio logits ({base}): max abs diff {d:.2e}");
    assert!(d < 1e-3, "{d}");
}
