//! Damaged or unsupported model files end with a short error naming the file and the problem.

use crate::common::copy_fixture;
use dtm_studio::engine::model::{load_model, LoadOptions};

fn load_err(path: &std::path::Path) -> String {
    load_model(path.to_str().unwrap(), &LoadOptions::default()).map(|_| ()).unwrap_err().to_string()
}

#[test]
fn truncated_safetensors_names_file_and_tensor() {
    let dir = copy_fixture("tiny-llama");
    let f = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("model.safetensors") && err.contains("truncated") && err.contains("tensor '"), "{err}");
}

#[test]
fn unknown_architecture_is_named() {
    let dir = copy_fixture("tiny-llama");
    let cfg = dir.path().join("config.json");
    let text =
        std::fs::read_to_string(&cfg).unwrap().replace("LlamaForCausalLM", "GPTNeoXForCausalLM").replace("\"llama\"", "\"gpt_neox\"");
    std::fs::write(&cfg, text).unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("config.json") && err.contains("GPTNeoXForCausalLM") && err.contains("supported"), "{err}");
}

#[test]
fn missing_tokenizer_says_which_file() {
    let dir = copy_fixture("tiny-llama");
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("tokenizer.json") && err.contains("missing"), "{err}");
}

#[test]
fn pickle_checkpoints_are_refused_without_reading_them() {
    let dir = copy_fixture("tiny-llama");
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let bin = dir.path().join("pytorch_model.bin");
    std::fs::write(&bin, b"\x80\x02cos\nsystem\n.").unwrap();
    for target in [dir.path().to_path_buf(), bin] {
        let err = load_err(&target);
        assert!(err.contains("pytorch_model.bin") && err.contains("safetensors") && err.contains("not loaded"), "{err}");
    }
}

#[test]
fn weight_with_wrong_shape_is_named() {
    let dir = copy_fixture("tiny-llama");
    let cfg = dir.path().join("config.json");
    let text = std::fs::read_to_string(&cfg).unwrap().replace("\"intermediate_size\": 128", "\"intermediate_size\": 96");
    std::fs::write(&cfg, text).unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("mlp.gate_proj.weight") && err.contains("[128, 64]"), "{err}");
}

#[test]
fn empty_folder_is_not_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("no config.json"), "{err}");
}
