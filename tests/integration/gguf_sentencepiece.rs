//! A GGUF with a SentencePiece vocabulary (`tokenizer.ggml.model = llama`, as Llama 2, Mistral
//! and TinyLlama files have) gives the token ids transformers' GGUF tokenizer gives on tricky
//! strings, decodes them back as it does, and loads for chat.
//! Fixture: `scripts/crosscheck/sentencepiece_gguf.py`.

use crate::common::{fixture, load_cpu_f32, read_json};
use dtm_studio::engine::data::ChatMessage;
use dtm_studio::engine::model::generate::{generate, SamplingConfig};

fn ids(v: &serde_json::Value) -> Vec<u32> {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn sentencepiece_gguf_tokenizes_as_transformers_does() {
    let m = load_cpu_f32(&fixture("tiny-sp.gguf"));
    let reference = read_json(&fixture("sentencepiece_gguf_reference.json"));
    assert_eq!(m.tokenizer.vocab_size() as u64, reference["vocab_size"].as_u64().unwrap());
    let cases = reference["cases"].as_array().unwrap();
    assert!(cases.len() >= 12);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        assert_eq!(m.tokenizer.encode(text, false).unwrap(), ids(&case["ids"]), "ids of {text:?}");
        assert_eq!(m.tokenizer.encode(text, true).unwrap(), ids(&case["ids_with_special"]), "ids with BOS of {text:?}");
        let decoded = m.tokenizer.decode(&ids(&case["ids"]), false).unwrap();
        assert_eq!(decoded, case["decoded"].as_str().unwrap(), "decoding of {text:?}");
    }
}

#[test]
fn sentencepiece_gguf_loads_for_chat() {
    let m = load_cpu_f32(&fixture("tiny-sp.gguf"));
    assert_eq!((m.tokenizer.bos_token(), m.tokenizer.eos_token()), (Some("<s>"), Some("</s>")));
    assert!(m.tokenizer.stop_ids().contains(&2), "</s> ends an answer: {:?}", m.tokenizer.stop_ids());
    let prompt = m.tokenizer.render_chat(&[ChatMessage::new("user", "count apples")], true).unwrap();
    assert!(prompt.starts_with("<s>user: count apples") && prompt.ends_with("assistant:"), "{prompt:?}");
    let prompt_ids = m.tokenizer.encode(&prompt, false).unwrap();
    assert_eq!(prompt_ids[0], 1, "the template's <s> is the BOS token, not its letters");
    let cfg = SamplingConfig { max_new_tokens: 6, ..Default::default() };
    let out = generate(&m.model, &m.tokenizer, &prompt_ids, &cfg, &mut |_| true).unwrap();
    assert!(!out.token_ids.is_empty() && out.token_ids.len() <= 6, "{:?}", out.token_ids);
}
