//! The tokenizer of a GGUF whose vocabulary is SentencePiece (`tokenizer.ggml.model = llama`:
//! Llama 2, Mistral, TinyLlama), rebuilt from the metadata as transformers' GGUF loader builds
//! it, so the ids agree with `AutoTokenizer.from_pretrained(dir, gguf_file=...)`:
//!
//! - a BPE model over the pieces with byte fallback (`<0xNN>` tokens for what no piece covers)
//!   and unknowns fused; its merges are the file's `tokenizer.ggml.merges` when present, else
//!   recovered from the vocabulary: every split of a piece into two pieces, best score first;
//! - the Metaspace pre-tokenizer (spaces become `▁`, one `▁` before the text, no split);
//! - control tokens (type 3) as special tokens and user-defined ones (type 4) as added tokens,
//!   matched whole in the text;
//! - a BOS before the text unless `tokenizer.ggml.add_bos_token` is false (an EOS after it when
//!   `add_eos_token` is true);
//! - the decoder: `▁` back to spaces, byte tokens back to bytes, the first space stripped.

use candle_core::quantized::gguf_file::{Content, Value};
use std::collections::HashMap;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::replace::Replace;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer};

/// GGUF token types (llama.cpp's `llama_token_type`).
const CONTROL: i64 = 3;
const USER_DEFINED: i64 = 4;

/// The metadata key `key` as an array, or a message naming it.
fn array<'a>(content: &'a Content, key: &str) -> Result<&'a Vec<Value>, String> {
    content.metadata.get(key).ok_or_else(|| format!("{key} is missing"))?.to_vec().map_err(|e| format!("{key}: {e}"))
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::F32(x) => Some(f64::from(*x)),
        Value::F64(x) => Some(*x),
        Value::I32(x) => Some(f64::from(*x)),
        Value::U32(x) => Some(f64::from(*x)),
        Value::I64(x) => Some(*x as f64),
        Value::U64(x) => Some(*x as f64),
        Value::I8(x) => Some(f64::from(*x)),
        Value::U8(x) => Some(f64::from(*x)),
        Value::I16(x) => Some(f64::from(*x)),
        Value::U16(x) => Some(f64::from(*x)),
        _ => None,
    }
}

fn flag(content: &Content, key: &str) -> Option<bool> {
    content.metadata.get(key).and_then(|v| v.to_bool().ok())
}

/// The merges a SentencePiece vocabulary implies (transformers' `generate_merges` with scores):
/// for each piece in vocabulary order, every split into two pieces (ordered by the pieces' ids);
/// all of them sorted by the merged piece's score, then the left and right lengths, highest
/// first, keeping that order among equals.
pub fn merges_from_scores(tokens: &[String], scores: &[f64]) -> Vec<(String, String)> {
    let ids: HashMap<&str, usize> = tokens.iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();
    // A piece listed twice takes its last score, as a Python dict built from the list would.
    let score_of: HashMap<&str, f64> = tokens.iter().zip(scores).map(|(t, s)| (t.as_str(), *s)).collect();
    let mut seen = std::collections::HashSet::new();
    let mut merges: Vec<(usize, usize, f64)> = Vec::new();
    for piece in tokens {
        if !seen.insert(piece.as_str()) {
            continue;
        }
        let score = score_of[piece.as_str()];
        let mut local: Vec<(usize, usize, f64)> =
            piece.char_indices().skip(1).filter_map(|(at, _)| Some((*ids.get(&piece[..at])?, *ids.get(&piece[at..])?, score))).collect();
        local.sort_by_key(|&(l, r, _)| (l, r));
        merges.extend(local);
    }
    let len = |id: usize| tokens[id].chars().count();
    merges.sort_by(|a, b| b.2.total_cmp(&a.2).then(len(b.0).cmp(&len(a.0))).then(len(b.1).cmp(&len(a.1))));
    merges.into_iter().map(|(l, r, _)| (tokens[l].clone(), tokens[r].clone())).collect()
}

/// Builds the tokenizer of a SentencePiece GGUF; the error says which metadata is wrong.
pub fn sentencepiece_from_gguf(content: &Content) -> Result<Tokenizer, String> {
    let tokens: Vec<String> = array(content, "tokenizer.ggml.tokens")?
        .iter()
        .map(|v| v.to_string().cloned().map_err(|e| format!("tokenizer.ggml.tokens: {e}")))
        .collect::<Result<_, _>>()?;
    let merges = match content.metadata.get("tokenizer.ggml.merges") {
        Some(list) => list
            .to_vec()
            .map_err(|e| format!("tokenizer.ggml.merges: {e}"))?
            .iter()
            .map(|m| {
                let text = m.to_string().map_err(|e| format!("tokenizer.ggml.merges: {e}"))?;
                let (l, r) = text.split_once(' ').ok_or_else(|| format!("tokenizer.ggml.merges: '{text}' is not two pieces"))?;
                Ok((l.to_string(), r.to_string()))
            })
            .collect::<Result<Vec<_>, String>>()?,
        None => {
            let scores: Vec<f64> = array(content, "tokenizer.ggml.scores")?
                .iter()
                .map(|v| number(v).ok_or_else(|| "tokenizer.ggml.scores holds a value that is not a number".to_string()))
                .collect::<Result<_, _>>()?;
            if scores.len() != tokens.len() {
                return Err(format!("tokenizer.ggml.scores has {} entries for {} tokens", scores.len(), tokens.len()));
            }
            merges_from_scores(&tokens, &scores)
        }
    };
    let vocab: tokenizers::models::bpe::Vocab = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
    let bpe = BPE::builder().vocab_and_merges(vocab, merges).fuse_unk(true).byte_fallback(true).build().map_err(|e| e.to_string())?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(Metaspace::new('▁', PrependScheme::First, false)));
    let replace = Replace::new("▁", " ").map_err(|e| e.to_string())?;
    tokenizer.with_decoder(Some(DecoderSequence::new(vec![
        replace.into(),
        ByteFallback::new().into(),
        Fuse::new().into(),
        Strip::new(' ', 1, 0).into(),
    ])));
    let types: Vec<i64> = match content.metadata.get("tokenizer.ggml.token_type") {
        Some(list) => {
            list.to_vec().map_err(|e| format!("tokenizer.ggml.token_type: {e}"))?.iter().map(|v| number(v).unwrap_or(1.0) as i64).collect()
        }
        None => Vec::new(),
    };
    let of_type = |kind: i64, special: bool| -> Vec<AddedToken> {
        tokens
            .iter()
            .zip(&types)
            .filter(|(_, t)| **t == kind)
            .map(|(tok, _)| AddedToken::from(tok.clone(), special).normalized(false))
            .collect()
    };
    tokenizer.add_special_tokens(of_type(CONTROL, true)).map_err(|e| e.to_string())?;
    tokenizer.add_tokens(of_type(USER_DEFINED, false)).map_err(|e| e.to_string())?;
    let token_at = |key: &str| -> Option<(String, u32)> {
        let id = content.metadata.get(key)?.to_u32().ok()?;
        Some((tokens.get(id as usize)?.clone(), id))
    };
    let bos = token_at("tokenizer.ggml.bos_token_id").filter(|_| flag(content, "tokenizer.ggml.add_bos_token").unwrap_or(true));
    let eos = token_at("tokenizer.ggml.eos_token_id").filter(|_| flag(content, "tokenizer.ggml.add_eos_token").unwrap_or(false));
    if bos.is_some() || eos.is_some() {
        let single: Vec<String> =
            bos.iter().map(|(t, _)| t.clone()).chain(["$A".to_string()]).chain(eos.iter().map(|(t, _)| t.clone())).collect();
        let pair: Vec<String> = bos
            .iter()
            .map(|(t, _)| format!("{t}:0"))
            .chain(["$A:0".to_string()])
            .chain(eos.iter().map(|(t, _)| format!("{t}:0")))
            .chain(bos.iter().map(|(t, _)| format!("{t}:1")))
            .chain(["$B:1".to_string()])
            .chain(eos.iter().map(|(t, _)| format!("{t}:1")))
            .collect();
        let specials: Vec<(String, u32)> = bos.iter().chain(eos.iter()).cloned().collect();
        let template = TemplateProcessing::builder()
            .try_single(single)
            .and_then(|b| b.try_pair(pair))
            .map_err(|e| e.to_string())?
            .special_tokens(specials)
            .build()
            .map_err(|e| e.to_string())?;
        tokenizer.with_post_processor(Some(template));
    }
    Ok(tokenizer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_come_from_splits_of_pieces_best_score_first() {
        let tokens: Vec<String> = ["<unk>", "a", "b", "c", "ab", "abc", "bc"].iter().map(|s| s.to_string()).collect();
        let scores = [0.0, -1.0, -2.0, -3.0, -0.5, -0.7, -0.6];
        let merges = merges_from_scores(&tokens, &scores);
        let pairs: Vec<(&str, &str)> = merges.iter().map(|(l, r)| (l.as_str(), r.as_str())).collect();
        // "ab" (-0.5), then "bc" (-0.6), then "abc" (-0.7) split as a+bc and ab+c: the longer
        // left piece first.
        assert_eq!(pairs, vec![("a", "b"), ("b", "c"), ("ab", "c"), ("a", "bc")]);
    }
}
