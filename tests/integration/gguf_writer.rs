//! Writing Llama models as llama.cpp does (Q/K rows permuted for interleaved RoPE, Llama 3
//! scaling as `rope_freqs`, the tiny Llama's tokenizer in the metadata), in any GGUF type.

use crate::common::{fixture, read_json};
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};
use dtm_studio::engine::model::rope::inverse_frequencies;
use dtm_studio::engine::model::safetensors_file::{load_safetensors, weight_files};
use dtm_studio::engine::model::weights::Weights;
use dtm_studio::engine::model::ModelConfig;
use std::path::Path;

fn permute(w: &Tensor, n_head: usize) -> Tensor {
    let (rows, cols) = w.dims2().unwrap();
    w.reshape((n_head, 2, rows / n_head / 2, cols)).unwrap().transpose(1, 2).unwrap().contiguous().unwrap().reshape((rows, cols)).unwrap()
}

fn gguf_name(hf: &str) -> String {
    let fixed = [
        ("model.embed_tokens.weight", "token_embd.weight"),
        ("model.norm.weight", "output_norm.weight"),
        ("lm_head.weight", "output.weight"),
    ];
    if let Some((_, g)) = fixed.iter().find(|(h, _)| *h == hf) {
        return g.to_string();
    }
    let rest = hf.strip_prefix("model.layers.").unwrap();
    let (layer, rest) = rest.split_once('.').unwrap();
    let module = rest.strip_suffix(".weight").unwrap();
    let g = match module {
        "input_layernorm" => "attn_norm",
        "post_attention_layernorm" => "ffn_norm",
        "self_attn.q_proj" => "attn_q",
        "self_attn.k_proj" => "attn_k",
        "self_attn.v_proj" => "attn_v",
        "self_attn.o_proj" => "attn_output",
        "mlp.gate_proj" => "ffn_gate",
        "mlp.up_proj" => "ffn_up",
        "mlp.down_proj" => "ffn_down",
        other => panic!("unexpected module {other}"),
    };
    format!("blk.{layer}.{g}.weight")
}

/// Writes tests/fixtures/tiny-llama as a llama.cpp-style GGUF with its matrices in `dtype`.
pub fn write_tiny_gguf(out: &Path, dtype: GgmlDType) {
    let dir = fixture("tiny-llama");
    let cfg = ModelConfig::from_hf_file(&dir.join("config.json")).unwrap();
    let mut w = Weights::new(&dir);
    load_safetensors(&weight_files(&dir).unwrap(), &mut w, &Device::Cpu).unwrap();
    write_llama_gguf(out, &cfg, &w, dtype);
}

/// A one-layer Llama as wide as block types of 256 values (Q4_K) need, with random weights and
/// the tiny Llama's tokenizer, written with its matrices in `dtype`; returns its configuration.
pub fn write_wide_gguf(out: &Path, dtype: GgmlDType) -> ModelConfig {
    let tiny = ModelConfig::from_hf_file(&fixture("tiny-llama").join("config.json")).unwrap();
    let cfg = ModelConfig { hidden_size: 256, intermediate_size: 512, head_dim: 64, num_hidden_layers: 1, ..tiny };
    let (h, v, i) = (cfg.hidden_size, cfg.vocab_size, cfg.intermediate_size);
    let (q, kv) = (cfg.num_attention_heads * cfg.head_dim, cfg.num_key_value_heads * cfg.head_dim);
    let dev = Device::Cpu;
    let mut w = Weights::new(out);
    let mut put = |name: &str, shape: &[usize], std: f32| {
        let t = if shape.len() == 1 { Tensor::ones(shape, DType::F32, &dev) } else { Tensor::randn(0f32, std, shape, &dev) };
        w.insert(name.to_string(), t.unwrap());
    };
    put("model.embed_tokens.weight", &[v, h], 1.0);
    put("lm_head.weight", &[v, h], 0.06);
    put("model.norm.weight", &[h], 0.0);
    for (name, shape) in [
        ("self_attn.q_proj", [q, h]),
        ("self_attn.k_proj", [kv, h]),
        ("self_attn.v_proj", [kv, h]),
        ("self_attn.o_proj", [h, q]),
        ("mlp.gate_proj", [i, h]),
        ("mlp.up_proj", [i, h]),
        ("mlp.down_proj", [h, i]),
    ] {
        put(&format!("model.layers.0.{name}.weight"), &shape, 1.0 / (shape[1] as f32).sqrt());
    }
    put("model.layers.0.input_layernorm.weight", &[h], 0.0);
    put("model.layers.0.post_attention_layernorm.weight", &[h], 0.0);
    write_llama_gguf(out, &cfg, &w, dtype);
    cfg
}

/// Writes HF-named f32 weights as a llama.cpp-style GGUF: matrices in `dtype`, vectors in f32.
pub fn write_llama_gguf(out: &Path, cfg: &ModelConfig, w: &Weights, dtype: GgmlDType) {
    let dir = fixture("tiny-llama");
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    for name in w.names() {
        let mut t = w.get(&name).unwrap().to_dtype(DType::F32).unwrap();
        if name.ends_with("q_proj.weight") {
            t = permute(&t, cfg.num_attention_heads);
        } else if name.ends_with("k_proj.weight") {
            t = permute(&t, cfg.num_key_value_heads);
        }
        let ty = if t.rank() == 2 { dtype } else { GgmlDType::F32 };
        tensors.push((gguf_name(&name), QTensor::quantize(&t, ty).unwrap()));
    }
    // Llama 3 scaling as llama.cpp stores it: plain frequency / scaled frequency.
    let plain = inverse_frequencies(&ModelConfig { rope_scaling: None, ..cfg.clone() });
    let scaled = inverse_frequencies(cfg);
    let factors: Vec<f32> = plain.iter().zip(&scaled).map(|(p, s)| (p / s) as f32).collect();
    let n = factors.len();
    tensors.push((
        "rope_freqs.weight".into(),
        QTensor::quantize(&Tensor::from_vec(factors, n, &Device::Cpu).unwrap(), GgmlDType::F32).unwrap(),
    ));

    let tok = read_json(&dir.join("tokenizer.json"));
    let vocab = tok["model"]["vocab"].as_object().unwrap();
    let mut tokens = vec![String::new(); vocab.len()];
    for (t, id) in vocab {
        tokens[id.as_u64().unwrap() as usize] = t.clone();
    }
    let specials: Vec<u64> = tok["added_tokens"].as_array().unwrap().iter().map(|t| t["id"].as_u64().unwrap()).collect();
    let merges: Vec<Value> = tok["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| Value::String(format!("{} {}", m[0].as_str().unwrap(), m[1].as_str().unwrap())))
        .collect();
    let types: Vec<Value> = (0..tokens.len() as u64).map(|i| Value::I32(if specials.contains(&i) { 3 } else { 1 })).collect();
    let u32v = |v: usize| Value::U32(v as u32);
    let template = read_json(&dir.join("tokenizer_config.json"))["chat_template"].as_str().unwrap().to_string();
    let meta: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("llama".into())),
        ("llama.embedding_length", u32v(cfg.hidden_size)),
        ("llama.feed_forward_length", u32v(cfg.intermediate_size)),
        ("llama.block_count", u32v(cfg.num_hidden_layers)),
        ("llama.attention.head_count", u32v(cfg.num_attention_heads)),
        ("llama.attention.head_count_kv", u32v(cfg.num_key_value_heads)),
        ("llama.attention.layer_norm_rms_epsilon", Value::F32(cfg.rms_norm_eps as f32)),
        ("llama.rope.freq_base", Value::F32(cfg.rope_theta as f32)),
        ("llama.context_length", u32v(cfg.max_position_embeddings)),
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String("gpt2".into())),
        ("tokenizer.ggml.tokens", Value::Array(tokens.into_iter().map(Value::String).collect())),
        ("tokenizer.ggml.merges", Value::Array(merges)),
        ("tokenizer.ggml.token_type", Value::Array(types)),
        ("tokenizer.ggml.bos_token_id", Value::U32(1)),
        ("tokenizer.ggml.eos_token_id", Value::U32(2)),
        ("tokenizer.chat_template", Value::String(template)),
    ];
    let meta_refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (*k, v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file = std::fs::File::create(out).unwrap();
    gguf_file::write(&mut file, &meta_refs, &tensor_refs).unwrap();
}
