//! Batched greedy decoding: left-padded rows sharing one KV cache give the logits and tokens each
//! prompt gives alone (tiny Llama and Qwen2; SmolLM2 chat prompts when the model is present).

use crate::common::{fixture, load_cpu_f32, max_abs_diff, smollm2_or_skip};
use candle_core::{DType, Tensor};
use dtm_studio::engine::data::chat_template::ChatMessage;
use dtm_studio::engine::job::CancelToken;
use dtm_studio::engine::model::generate::{generate, generate_greedy_batch, SamplingConfig};
use dtm_studio::engine::model::LoadedModel;

fn single(m: &LoadedModel, prompt: &[u32], max_new_tokens: usize, stop: &[String]) -> (String, Vec<u32>) {
    let cfg = SamplingConfig { max_new_tokens, stop_strings: stop.to_vec(), ..Default::default() };
    let g = generate(&m.model, &m.tokenizer, prompt, &cfg, &mut |_| true).unwrap();
    (g.text, g.token_ids)
}

fn last_logits_alone(m: &LoadedModel, prompt: &[u32]) -> Vec<f32> {
    let ids = Tensor::new(prompt, m.model.device()).unwrap().unsqueeze(0).unwrap();
    let all = m.model.forward_inference(&ids, None).unwrap().squeeze(0).unwrap();
    all.get(prompt.len() - 1).unwrap().to_dtype(DType::F32).unwrap().to_vec1().unwrap()
}

#[test]
fn padded_rows_score_and_decode_as_they_do_alone() {
    for name in ["tiny-llama", "tiny-qwen2"] {
        let m = load_cpu_f32(&fixture(name));
        let prompts: Vec<Vec<u32>> = vec![vec![5, 17, 42, 99, 3, 250, 7, 8, 9, 10, 11], vec![11, 12], vec![200, 3, 4, 5, 60]];
        // Prefill: each row's last-position logits equal the unpadded forward's.
        let longest = prompts.iter().map(Vec::len).max().unwrap();
        let pad: Vec<usize> = prompts.iter().map(|p| longest - p.len()).collect();
        let flat: Vec<u32> = prompts.iter().flat_map(|p| std::iter::repeat_n(0, longest - p.len()).chain(p.iter().copied())).collect();
        let ids = Tensor::from_vec(flat, (prompts.len(), longest), m.model.device()).unwrap();
        let batched = m.model.last_logits_padded(&ids, None, &pad).unwrap().to_vec2::<f32>().unwrap();
        for (p, got) in prompts.iter().zip(&batched) {
            let d = max_abs_diff(got, &last_logits_alone(&m, p));
            assert!(d < 1e-4, "{name}: padded row differs from the row alone by {d}");
        }
        // Decoding: the same tokens as one prompt at a time, each row stopping on its own.
        let outs = generate_greedy_batch(&m.model, &m.tokenizer, &prompts, 12, &[], &CancelToken::new()).unwrap();
        for (p, g) in prompts.iter().zip(&outs) {
            let (text, ids) = single(&m, p, 12, &[]);
            assert_eq!((&g.token_ids, &g.text), (&ids, &text), "{name}: prompt {p:?}");
        }
        let mixed = generate_greedy_batch(&m.model, &m.tokenizer, &[prompts[1].clone()], 3, &[], &CancelToken::new()).unwrap();
        assert_eq!(mixed[0].token_ids, outs[1].token_ids[..3]);
    }
}

#[test]
fn smollm2_batched_chat_answers_equal_single_answers() {
    let Some(path) = smollm2_or_skip("smollm2_batched_chat_answers_equal_single_answers") else { return };
    let m = load_cpu_f32(&path);
    let questions =
        ["What is the capital of France?", "Name three primary colours.", "What is 12 plus 30?", "Write one sentence about the sea."];
    let prompts: Vec<Vec<u32>> = questions
        .iter()
        .map(|q| m.tokenizer.encode(&m.tokenizer.render_chat(&[ChatMessage::new("user", q)], true).unwrap(), false).unwrap())
        .collect();
    let stop = vec!["\n\n".to_string()];
    let outs = generate_greedy_batch(&m.model, &m.tokenizer, &prompts, 24, &stop, &CancelToken::new()).unwrap();
    for ((q, p), g) in questions.iter().zip(&prompts).zip(&outs) {
        let (text, ids) = single(&m, p, 24, &stop);
        eprintln!("{q} -> {:?}", g.text);
        assert_eq!((&g.text, &g.token_ids), (&text, &ids), "{q}");
    }
    assert_eq!(outs[0].text, "The capital of France is Paris.");
}
