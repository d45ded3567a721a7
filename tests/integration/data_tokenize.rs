//! Prompt rendering and tokenisation: ids and response-only labels match transformers (tiny
//! tokenizer and SmolLM2), every assistant turn is trained, truncation is counted.

use crate::common::{fixture, read_json};
use dtm_studio::engine::data::tokenize::{eos_id, special_prefix};
use dtm_studio::engine::data::{
    check_lengths, collate, load_dataset, load_tokenizer, tokenize_dataset, Dataset, LoadDataOptions, PromptOptions, PromptTemplate,
    TokenizedExample, IGNORE_INDEX,
};
use dtm_studio::engine::model::TextTokenizer;
use serde_json::Value;
use std::path::Path;

fn tiny_tokenizer() -> TextTokenizer {
    TextTokenizer::from_hf_folder(&fixture("tiny-llama"), &[2]).unwrap()
}

fn dataset_from_records(dir: &Path, name: &str, records: &[Value]) -> Dataset {
    let p = dir.join(name);
    std::fs::write(&p, records.iter().map(|r| r.to_string() + "\n").collect::<String>()).unwrap();
    load_dataset(&p, &LoadDataOptions::default()).unwrap()
}

fn opts(template: PromptTemplate, max_len: usize, first_turn_only: bool) -> PromptOptions {
    PromptOptions { template, max_len, first_turn_only }
}

fn as_u32(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

fn as_i64(v: &Value) -> Vec<i64> {
    v.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect()
}

/// Compares our ids and labels with the transformers reference for one tokenizer.
fn check_against_reference(tok: &TextTokenizer, reference: &Value, name: &str) {
    let fx = read_json(&fixture("data_tokenize_reference.json"));
    let dir = tempfile::tempdir().unwrap();
    let alpaca = dataset_from_records(dir.path(), "a.jsonl", fx["alpaca_records"].as_array().unwrap());
    let chat = dataset_from_records(dir.path(), "m.jsonl", fx["message_records"].as_array().unwrap());
    for (ds, template, key) in [(&alpaca, PromptTemplate::Alpaca, "alpaca"), (&chat, PromptTemplate::Chat, "chat")] {
        let (toks, report) = tokenize_dataset(ds, tok, &opts(template, 4096, false)).unwrap();
        assert_eq!((report.truncated, report.examples_out), (0, ds.examples.len()));
        for (i, (t, want)) in toks.iter().zip(reference[key].as_array().unwrap()).enumerate() {
            assert_eq!(t.input_ids, as_u32(&want["input_ids"]), "{name} {key} example {i}: input_ids");
            assert_eq!(t.labels, as_i64(&want["labels"]), "{name} {key} example {i}: labels");
        }
    }
}

#[test]
fn data_tokenize_matches_transformers_tiny() {
    let fx = read_json(&fixture("data_tokenize_reference.json"));
    check_against_reference(&tiny_tokenizer(), &fx["tokenizers"]["tiny-llama"], "tiny-llama");
}

#[test]
fn data_tokenize_matches_transformers_smollm2() {
    let Some(gguf) = crate::common::smollm2_or_skip("data_tokenize_matches_transformers_smollm2") else { return };
    let fx = read_json(&fixture("data_tokenize_reference.json"));
    let tok = load_tokenizer(gguf.to_str().unwrap()).unwrap();
    assert!(special_prefix(&tok).unwrap().is_empty(), "SmolLM2 adds no BOS");
    check_against_reference(&tok, &fx["tokenizers"]["smollm2"], "smollm2");
}

/// Labels are -100 on a prefix-free set of prompt spans and equal the ids elsewhere; returns the
/// trained spans decoded.
fn trained_spans(tok: &TextTokenizer, t: &TokenizedExample) -> Vec<String> {
    assert_eq!(t.input_ids.len(), t.labels.len());
    let mut spans = Vec::new();
    let mut cur: Vec<u32> = Vec::new();
    for (&id, &label) in t.input_ids.iter().zip(&t.labels) {
        if label == IGNORE_INDEX {
            if !cur.is_empty() {
                spans.push(tok.decode(&std::mem::take(&mut cur), false).unwrap());
            }
        } else {
            assert_eq!(label, i64::from(id), "a trained label must equal its input id");
            cur.push(id);
        }
    }
    if !cur.is_empty() {
        spans.push(tok.decode(&cur, false).unwrap());
    }
    spans
}

#[test]
fn data_tokenize_masks_every_assistant_turn() {
    let tok = tiny_tokenizer();
    let dir = tempfile::tempdir().unwrap();
    let rec = serde_json::json!({"conversations": [{"from": "human", "value": "q1"}, {"from": "gpt", "value": "a1"},
        {"from": "human", "value": "q2"}, {"from": "gpt", "value": "a2"}, {"from": "human", "value": "q3"}, {"from": "gpt", "value": "a3"}]});
    let ds = dataset_from_records(dir.path(), "s.jsonl", &[rec]);
    let (toks, _) = tokenize_dataset(&ds, &tok, &opts(PromptTemplate::Alpaca, 1024, false)).unwrap();
    assert_eq!(trained_spans(&tok, &toks[0]), vec!["a1<|im_end|>", "a2<|im_end|>", "a3<|im_end|>"]);
    let text = tok.decode(&toks[0].input_ids, false).unwrap();
    assert!(text.contains("a1<|im_end|>\n\n### Instruction:\nq2\n\n### Response:\na2"), "{text}");
    let (toks, _) = tokenize_dataset(&ds, &tok, &opts(PromptTemplate::Chat, 1024, false)).unwrap();
    assert_eq!(trained_spans(&tok, &toks[0]), vec!["a1<|im_end|>\n", "a2<|im_end|>\n", "a3<|im_end|>\n"]);
    // The paper's setting trains on the first exchange only.
    let (toks, _) = tokenize_dataset(&ds, &tok, &PromptOptions { template: PromptTemplate::Chat, ..Default::default() }).unwrap();
    assert_eq!(trained_spans(&tok, &toks[0]), vec!["a1<|im_end|>\n"]);
    assert!(!tok.decode(&toks[0].input_ids, false).unwrap().contains("q2"));
}

#[test]
fn data_tokenize_truncation_is_counted() {
    let tok = tiny_tokenizer();
    let dir = tempfile::tempdir().unwrap();
    let long_prompt = "word ".repeat(80);
    let recs = [
        serde_json::json!({"instruction": "short", "output": "ok"}),
        serde_json::json!({"instruction": "short", "output": "a long answer ".repeat(20)}),
        serde_json::json!({"instruction": long_prompt, "output": "never seen"}),
    ];
    let ds = dataset_from_records(dir.path(), "t.jsonl", &recs);
    let (full, _) = tokenize_dataset(&ds, &tok, &opts(PromptTemplate::Alpaca, 4096, true)).unwrap();
    let max_len = full[0].input_ids.len() + 5;
    assert!(full[1].input_ids.len() > max_len && full[2].input_ids.len() > max_len);
    let (toks, report) = tokenize_dataset(&ds, &tok, &opts(PromptTemplate::Alpaca, max_len, true)).unwrap();
    assert_eq!((report.examples_in, report.examples_out, report.truncated, report.dropped_no_response), (3, 2, 2, 1));
    assert_eq!(report.source_index, vec![0, 1]);
    assert_eq!(toks[0], full[0]);
    assert_eq!(toks[1].input_ids, full[1].input_ids[..max_len]);
    assert!(toks[1].trained_tokens() > 0);
    assert_eq!(report.longest_tokens, full.iter().map(|t| t.input_ids.len()).max().unwrap());
    // The validation report counts the same over-long examples.
    let mut ds = ds;
    let stats = check_lengths(&mut ds, &tok, &opts(PromptTemplate::Alpaca, max_len, true)).unwrap();
    assert_eq!((stats.over_long, stats.min_tokens, stats.max_len_tokens), (2, full[0].input_ids.len(), max_len));
    assert_eq!(ds.report.issues.iter().filter(|i| i.message.contains("tokens long")).count(), 2);
}

#[test]
fn data_tokenize_adds_the_post_processor_bos_for_alpaca_only() {
    let dir = crate::common::copy_fixture("tiny-llama");
    let path = dir.path().join("tokenizer.json");
    let mut tj: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    tj["post_processor"] = serde_json::json!({"type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]}}});
    std::fs::write(&path, tj.to_string()).unwrap();
    let tok = TextTokenizer::from_hf_folder(dir.path(), &[2]).unwrap();
    assert_eq!(special_prefix(&tok).unwrap(), vec![1]);
    let data = tempfile::tempdir().unwrap();
    let ds = dataset_from_records(data.path(), "a.jsonl", &[serde_json::json!({"instruction": "hi", "output": "yo"})]);
    let (alpaca, _) = tokenize_dataset(&ds, &tok, &opts(PromptTemplate::Alpaca, 512, true)).unwrap();
    let (plain, _) = tokenize_dataset(&ds, &tiny_tokenizer(), &opts(PromptTemplate::Alpaca, 512, true)).unwrap();
    assert_eq!((alpaca[0].input_ids[0], alpaca[0].labels[0]), (1, IGNORE_INDEX));
    assert_eq!(alpaca[0].input_ids[1..], plain[0].input_ids[..]);
    let (chat, _) = tokenize_dataset(&ds, &tok, &opts(PromptTemplate::Chat, 512, true)).unwrap();
    let (chat_plain, _) = tokenize_dataset(&ds, &tiny_tokenizer(), &opts(PromptTemplate::Chat, 512, true)).unwrap();
    assert_eq!(chat[0], chat_plain[0], "the chat template decides special tokens itself");
    assert_eq!(eos_id(&tok).unwrap(), 2);
}

#[test]
fn data_tokenize_collate_pads_a_real_batch() {
    let tok = tiny_tokenizer();
    let dir = tempfile::tempdir().unwrap();
    let recs = [
        serde_json::json!({"instruction": "a", "output": "b"}),
        serde_json::json!({"instruction": "a longer one", "output": "with a longer reply"}),
    ];
    let ds = dataset_from_records(dir.path(), "c.jsonl", &recs);
    let (toks, _) = tokenize_dataset(&ds, &tok, &PromptOptions::default()).unwrap();
    let (ids, labels, b, t) = collate(&[&toks[0], &toks[1]], 0);
    assert_eq!((b, t), (2, toks[1].input_ids.len()));
    let n0 = toks[0].input_ids.len();
    assert_eq!(&ids[..n0], &toks[0].input_ids[..]);
    assert!(ids[n0..t].iter().all(|&i| i == 0) && labels[n0..t].iter().all(|&l| l == IGNORE_INDEX));
    assert_eq!(&labels[t..], &toks[1].labels[..]);
}

#[test]
fn data_tokenize_real_alpaca_with_smollm2() {
    let Some(gguf) = crate::common::smollm2_or_skip("data_tokenize_real_alpaca_with_smollm2") else { return };
    let Some(data) = crate::common::data_file("data_tokenize_real_alpaca_with_smollm2", "instruct/alpaca_en_demo.json") else {
        return;
    };
    let tok = load_tokenizer(gguf.to_str().unwrap()).unwrap();
    let ds = load_dataset(&data, &LoadDataOptions::default()).unwrap();
    let (toks, report) = tokenize_dataset(&ds, &tok, &PromptOptions::default()).unwrap();
    assert_eq!(report.examples_in, 999);
    assert_eq!(report.examples_out + report.dropped_no_response, 999);
    assert!(report.truncated < 50, "{}", report.summary());
    for (t, &i) in toks.iter().zip(&report.source_index) {
        let spans = trained_spans(&tok, t);
        assert_eq!(spans.len(), 1, "example {i}: one response span");
        if t.input_ids.len() < report.max_len {
            assert_eq!(spans[0], format!("{}<|im_end|>", ds.examples[i].response_text()), "example {i}");
        }
    }
}

#[test]
fn data_tokenize_template_failure_names_file_and_row() {
    let dir = crate::common::copy_fixture("tiny-llama");
    let cfg_path = dir.path().join("tokenizer_config.json");
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["chat_template"] = Value::String(
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{{ m['content'] }}{% endfor %}"
            .into(),
    );
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let tok = TextTokenizer::from_hf_folder(dir.path(), &[2]).unwrap();
    let data = tempfile::tempdir().unwrap();
    let recs =
        [serde_json::json!({"instruction": "a", "output": "b"}), serde_json::json!({"instruction": "c", "output": "d", "system": "S"})];
    let ds = dataset_from_records(data.path(), "sys.jsonl", &recs);
    let err = tokenize_dataset(&ds, &tok, &opts(PromptTemplate::Chat, 512, true)).unwrap_err().to_string();
    assert!(err.contains("sys.jsonl: row 1 (line 2)") && err.contains("System role not supported"), "{err}");
    // The Alpaca template does not use the model's template, so the same data tokenises.
    assert_eq!(tokenize_dataset(&ds, &tok, &opts(PromptTemplate::Alpaca, 512, true)).unwrap().0.len(), 2);
}
