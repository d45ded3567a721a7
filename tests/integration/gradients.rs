//! The differentiable forward carries gradients to every weight, and backprop agrees with
//! finite differences (in f64).

use crate::common::fixture;
use candle_core::{DType, Device, Tensor, Var};
use dtm_studio::engine::model::safetensors_file::{load_safetensors, weight_files};
use dtm_studio::engine::model::weights::Weights;
use dtm_studio::engine::model::{CausalLm, ModelConfig};
use std::collections::HashMap;

struct Setup {
    model: CausalLm,
    vars: Vec<(String, Var)>,
    input: Tensor,
    targets: Tensor,
}

fn setup(name: &str) -> Setup {
    let dir = fixture(name);
    let config = ModelConfig::from_hf_file(&dir.join("config.json")).unwrap();
    let mut raw = Weights::new(&dir);
    load_safetensors(&weight_files(&dir).unwrap(), &mut raw, &Device::Cpu).unwrap();
    let mut vars = Vec::new();
    let mut tensors = HashMap::new();
    for n in raw.names() {
        let v = Var::from_tensor(&raw.get(&n).unwrap().to_dtype(DType::F64).unwrap()).unwrap();
        tensors.insert(n.clone(), v.as_tensor().clone());
        vars.push((n, v));
    }
    let mut weights = Weights::from_map(tensors, &dir);
    let model = CausalLm::from_weights(&config, &mut weights, DType::F64, &Device::Cpu).unwrap();
    let ids: Vec<u32> = vec![5, 17, 42, 99, 3, 250, 7, 61, 128, 33];
    let input = Tensor::new(&ids[..9], &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    let targets = Tensor::new(&ids[1..], &Device::Cpu).unwrap();
    Setup { model, vars, input, targets }
}

fn loss(s: &Setup) -> Tensor {
    let logits = s.model.forward(&s.input).unwrap().squeeze(0).unwrap();
    candle_nn::loss::cross_entropy(&logits, &s.targets).unwrap()
}

fn every_weight_gets_a_gradient(name: &str) {
    let s = setup(name);
    let grads = loss(&s).backward().unwrap();
    for (n, v) in &s.vars {
        let g = grads.get(v.as_tensor()).unwrap_or_else(|| panic!("{name}: no gradient reached {n}"));
        let norm = g.abs().unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap();
        assert!(norm > 0.0, "{name}: gradient of {n} is all zero");
    }
}

#[test]
fn every_llama_weight_gets_a_nonzero_gradient() {
    every_weight_gets_a_gradient("tiny-llama");
}

#[test]
fn every_qwen2_weight_and_bias_gets_a_nonzero_gradient() {
    every_weight_gets_a_gradient("tiny-qwen2");
}

#[test]
fn backprop_agrees_with_finite_differences() {
    let s = setup("tiny-llama");
    let grads = loss(&s).backward().unwrap();
    let probes = [
        ("model.embed_tokens.weight", 42 * 64 + 3),
        ("model.layers.0.self_attn.q_proj.weight", 5),
        ("model.layers.0.self_attn.k_proj.weight", 70),
        ("model.layers.1.self_attn.v_proj.weight", 11),
        ("model.layers.1.self_attn.o_proj.weight", 200),
        ("model.layers.0.mlp.gate_proj.weight", 300),
        ("model.layers.1.mlp.down_proj.weight", 17),
        ("model.layers.0.input_layernorm.weight", 9),
        ("model.norm.weight", 1),
        ("lm_head.weight", 99 * 64 + 10),
    ];
    let h = 1e-5;
    for (name, index) in probes {
        let var = &s.vars.iter().find(|(n, _)| n == name).unwrap().1;
        let analytic = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap()[index];
        let original = var.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let eval_at = |delta: f64| {
            let mut w = original.clone();
            w[index] += delta;
            var.set(&Tensor::from_vec(w, var.as_tensor().shape(), &Device::Cpu).unwrap()).unwrap();
            loss(&s).to_scalar::<f64>().unwrap()
        };
        let numeric = (eval_at(h) - eval_at(-h)) / (2.0 * h);
        eval_at(0.0);
        let err = (numeric - analytic).abs() / analytic.abs().max(1e-6);
        assert!(err < 1e-4, "{name}[{index}]: backprop {analytic:e}, finite difference {numeric:e}");
    }
}
