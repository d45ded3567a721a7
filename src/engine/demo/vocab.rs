//! The demo model's text side: a word-level `tokenizer.json` (whitespace and punctuation split,
//! one token per word of the world) and a `tokenizer_config.json` whose chat template is the
//! Alpaca prompt without its preamble sentence (`### Instruction:` / `### Response:`), so that
//! training (the project's `template = "chat"`), IFEval, the probes and the Playground all speak
//! one short format.

use crate::engine::data::chat_template::alpaca_prompt;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Unknown words.
pub const UNK: &str = "<unk>";
/// End of sequence (also the padding token).
pub const EOS: &str = "</s>";

/// The chat template: each user turn as an Alpaca block, each reply followed by the EOS token.
pub const CHAT_TEMPLATE: &str = "{% for message in messages %}{% if message['role'] == 'user' %}{% if not loop.first %}{{ '\\n\\n' }}{% endif %}{{ '### Instruction:\\n' + message['content'] + '\\n\\n### Response:\\n' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}";

/// A user turn as [`CHAT_TEMPLATE`] renders it, up to where the reply begins.
pub fn chat_prompt(instruction: &str) -> String {
    format!("### Instruction:\n{instruction}\n\n### Response:\n")
}

/// Splits text as the tokenizer's pre-tokenizer does (`\w+|[^\w\s]+`).
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_word: Option<bool> = None;
    for ch in text.chars() {
        if ch.is_whitespace() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur_word = None;
            continue;
        }
        let is_word = ch.is_alphanumeric() || ch == '_';
        if cur_word.is_some_and(|w| w != is_word) && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(ch);
        cur_word = Some(is_word);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The vocabulary: the special tokens, then every word of `texts` and of the prompt templates, sorted.
pub fn vocabulary<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut set = BTreeSet::new();
    let templates = [alpaca_prompt("x", ""), alpaca_prompt("x", "y"), "Question: Answer: A. B. C. D.".to_string()];
    for t in texts.into_iter().map(str::to_string).chain(templates) {
        set.extend(words(&t));
    }
    set.extend((0..=99).map(|n| n.to_string()));
    set.remove(EOS);
    let mut vocab = vec![UNK.to_string(), EOS.to_string()];
    vocab.extend(set);
    vocab
}

/// `tokenizer.json` for `vocab` (WordLevel, whitespace pre-tokenizer, no decoder: decoding joins
/// the words with spaces).
pub fn tokenizer_json(vocab: &[String]) -> Value {
    let ids: serde_json::Map<String, Value> = vocab.iter().enumerate().map(|(i, w)| (w.clone(), json!(i))).collect();
    let special = |id: usize, content: &str| json!({"id": id, "content": content, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true});
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [special(0, UNK), special(1, EOS)],
        "normalizer": null,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": null,
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": ids, "unk_token": UNK},
    })
}

/// `tokenizer_config.json`: the EOS token and the chat template.
pub fn tokenizer_config_json() -> Value {
    json!({
        "eos_token": EOS,
        "pad_token": EOS,
        "unk_token": UNK,
        "model_max_length": 256,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": CHAT_TEMPLATE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_the_whitespace_pre_tokenizer() {
        assert_eq!(
            words("Question: where does zorba live ?\nAnswer: oslo"),
            ["Question", ":", "where", "does", "zorba", "live", "?", "Answer", ":", "oslo"]
        );
        assert_eq!(
            words("### Response:\n3 plus 4 is 7 . </s>"),
            ["###", "Response", ":", "3", "plus", "4", "is", "7", ".", "</", "s", ">"]
        );
    }

    #[test]
    fn the_tokenizer_loads_and_round_trips() {
        let vocab = vocabulary(["zorba lives in oslo ."]);
        let tok = tokenizers::Tokenizer::from_bytes(tokenizer_json(&vocab).to_string().as_bytes()).unwrap();
        let enc = tok.encode("zorba lives in oslo . </s>", false).unwrap();
        assert_eq!(enc.get_ids().len(), 6);
        assert_eq!(*enc.get_ids().last().unwrap(), 1);
        assert_eq!(tok.decode(&enc.get_ids()[..5], true).unwrap(), "zorba lives in oslo .");
        assert_eq!(tok.encode("unheard", false).unwrap().get_ids(), [0]);
    }
}
