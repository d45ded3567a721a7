//! A GGUF written the way llama.cpp writes Llama models (Q/K rows permuted for interleaved RoPE,
//! Llama 3 scaling as `rope_freqs`, tokenizer in the metadata) loads to the same logits and
//! tokens as the HF folder it came from; a truncated one is refused with a clear message.

use crate::common::{fixture, load_cpu_f32, max_abs_diff};
use crate::gguf_writer::write_tiny_gguf;
use candle_core::quantized::GgmlDType;
use candle_core::{Device, Tensor};
use std::path::PathBuf;

fn tiny_gguf() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny-llama.gguf");
    write_tiny_gguf(&path, GgmlDType::F32);
    (dir, path)
}

#[test]
fn gguf_gives_the_hf_folders_logits_and_tokens() {
    let (_dir, path) = tiny_gguf();
    let from_gguf = load_cpu_f32(&path);
    let from_hf = load_cpu_f32(&fixture("tiny-llama"));
    let ids = Tensor::new(&[[5u32, 17, 42, 99, 3, 250, 7, 61]], &Device::Cpu).unwrap();
    let a = from_gguf.model.forward_inference(&ids, None).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let b = from_hf.model.forward_inference(&ids, None).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(max_abs_diff(&a, &b) < 1e-5, "GGUF and HF logits differ by {}", max_abs_diff(&a, &b));
    assert_eq!(from_gguf.info.parameters, from_hf.info.parameters);
    for text in ["the cat sat on the mat", " hello  there\nfriend", "<|im_start|>user\nhi<|im_end|>"] {
        assert_eq!(from_gguf.tokenizer.encode(text, false).unwrap(), from_hf.tokenizer.encode(text, false).unwrap(), "{text:?}");
    }
    assert_eq!(from_gguf.tokenizer.chat_template(), from_hf.tokenizer.chat_template());
    assert!(from_gguf.tokenizer.stop_ids().contains(&2));
}

#[test]
fn truncated_gguf_is_refused_with_the_file_name() {
    let (dir, path) = tiny_gguf();
    let bytes = std::fs::read(&path).unwrap();
    for keep in [bytes.len() - 1000, 2000, 10] {
        let cut = dir.path().join(format!("cut-{keep}.gguf"));
        std::fs::write(&cut, &bytes[..keep]).unwrap();
        let err = dtm_studio::engine::model::load_model(cut.to_str().unwrap(), &Default::default()).unwrap_err().to_string();
        assert!(err.contains(&format!("cut-{keep}.gguf")), "{err}");
        assert!(err.contains("truncated") || err.contains("remaining"), "{err}");
    }
}
