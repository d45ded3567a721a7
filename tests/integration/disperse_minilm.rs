//! MiniLM through candle matches sentence-transformers, and encoder folders that are not BERT are
//! refused with a clear message.

use crate::common::{data_file, fixture, minilm_or_skip};
use candle_core::Device;
use dtm_studio::engine::data::{load_dataset, LoadDataOptions};
use dtm_studio::engine::embed::{embed_texts, BertEncoder, EmbedError, EmbedOptions, Encoder, EncoderSpec};
use dtm_studio::engine::job::{CancelToken, EventSink, StageScope};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// Reference vectors written by scripts/crosscheck/minilm_reference.py.
#[test]
fn disperse_minilm_matches_sentence_transformers() {
    let test = "disperse_minilm_matches_sentence_transformers";
    let (Some(dir), Some(data)) = (minilm_or_skip(test), data_file(test, "instruct/alpaca_en_demo.json")) else { return };
    let bytes = std::fs::read(fixture("minilm_reference.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone().unwrap();
    let view = st.tensor("embeddings").unwrap();
    assert_eq!(view.dtype(), safetensors::Dtype::F16);
    let reference: Vec<f32> = view.data().chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect();

    let ds = load_dataset(&data, &LoadDataOptions::default()).unwrap();
    assert_eq!(ds.sha256, meta["data_sha256"], "the data file differs from the one the reference was made from");
    let n_ins: usize = meta["n_instructions"].parse().unwrap();
    let n_resp: usize = meta["n_responses"].parse().unwrap();
    let mut texts: Vec<String> = ds.examples[..n_ins].iter().map(|e| e.instruction_text()).collect();
    texts.extend(ds.examples[..n_resp].iter().map(|e| e.response_text()));
    let joined = texts.join("\u{1e}");
    let digest: String = Sha256::digest(joined.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(digest, meta["texts_sha256"], "the rebuilt texts differ from the script's");

    let enc = BertEncoder::load(&dir, &Device::Cpu).unwrap();
    assert_eq!((enc.dim, enc.max_seq_len, enc.normalize), (384, 256, true));
    assert!(enc.is_packed_cpu());
    // Through the batching used everywhere (sorted by length, batches of 32).
    let enc = Encoder::Bert(Box::new(enc));
    let (sink, cancel) = (EventSink::discard(), CancelToken::new());
    let scope = StageScope { name: "embed", sink: &sink, cancel: &cancel };
    let ours = embed_texts(&enc, &texts, &EmbedOptions { batch_size: 32 }, &scope).unwrap();
    let mut worst = (1.0f64, 0usize);
    for i in 0..texts.len() {
        let (a, b) = (&ours[i * 384..(i + 1) * 384], &reference[i * 384..(i + 1) * 384]);
        let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
        let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        let cos = dot / (na * nb);
        if cos < worst.0 {
            worst = (cos, i);
        }
    }
    // candle-transformers' BertModel (the GPU path) on a padded batch of the same texts.
    let padded = BertEncoder::load_with(&dir, &Device::Cpu, false).unwrap();
    assert!(!padded.is_packed_cpu());
    let some: Vec<&str> = texts[190..222].iter().map(String::as_str).collect();
    let theirs = padded.encode_batch(&some).unwrap();
    for (i, (a, b)) in theirs.chunks(384).zip(reference[190 * 384..222 * 384].chunks(384)).enumerate() {
        let cos: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() / b.iter().map(|y| y * y).sum::<f32>().sqrt();
        assert!(cos >= 0.9999, "candle-transformers path, text {}: cosine {cos}", 190 + i);
    }
    eprintln!("lowest cosine {:.9} (1 - cos = {:.2e}, text {})", worst.0, 1.0 - worst.0, worst.1);
    assert!(worst.0 >= 0.9999, "text {} has cosine {} to sentence-transformers", worst.1, worst.0);
}

#[test]
fn disperse_minilm_embeds_empty_and_whitespace_texts() {
    let Some(dir) = minilm_or_skip("disperse_minilm_embeds_empty_and_whitespace_texts") else { return };
    let enc = BertEncoder::load(&dir, &Device::Cpu).unwrap();
    let v = enc.encode_batch(&["", "   ", "hello"]).unwrap();
    for row in v.chunks(384) {
        let n: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!(row.iter().all(|x| x.is_finite()) && (n - 1.0).abs() < 1e-4, "norm {n}");
    }
}

#[test]
fn disperse_encoder_folder_that_is_not_bert_is_refused() {
    let msg = |spec: EncoderSpec| match Encoder::load(&spec, &Device::Cpu) {
        Ok(_) => panic!("{spec} loaded as an encoder"),
        Err(e) => e.to_string(),
    };
    let llama = msg(EncoderSpec::Dir(fixture("tiny-llama")));
    assert!(llama.contains("model_type 'llama'") && llama.contains("the `builtin` encoder"), "{llama}");
    let missing = msg(EncoderSpec::Dir(PathBuf::from("/no/such/encoder")));
    assert!(missing.contains("/no/such/encoder") && missing.contains("no such folder"), "{missing}");
    let empty = tempfile::tempdir().unwrap();
    let e = msg(EncoderSpec::Dir(empty.path().to_path_buf()));
    assert!(e.contains("no config.json"), "{e}");
    // A BERT config with only a PyTorch pickle beside it.
    let config = r#"{"model_type": "bert", "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 16, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "max_position_embeddings": 16, "type_vocab_size": 2, "initializer_range": 0.02,
        "layer_norm_eps": 1e-12, "pad_token_id": 0}"#;
    std::fs::write(empty.path().join("config.json"), config).unwrap();
    std::fs::write(empty.path().join("pytorch_model.bin"), b"pickle").unwrap();
    let pickle = msg(EncoderSpec::Dir(empty.path().to_path_buf()));
    assert!(pickle.contains("pytorch_model.bin") && pickle.contains("never unpickled"), "{pickle}");
    // A config that is not JSON.
    std::fs::write(empty.path().join("config.json"), "{ not json").unwrap();
    match Encoder::load(&EncoderSpec::Dir(empty.path().to_path_buf()), &Device::Cpu) {
        Err(EmbedError::Config { path, .. }) => assert!(path.ends_with("config.json")),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("loaded a folder with a broken config"),
    }
}
