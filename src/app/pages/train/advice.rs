//! What to change after a training run failed, read from its message.

/// The settings to change for a failed run's `message`, in a sentence; `None` when the message
/// says nothing a setting would fix.
pub fn advice(message: &str) -> Option<&'static str> {
    let m = message.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
    if has(&["refused before loading anything"]) {
        Some("The run does not fit in the device's memory: the message says what would (gradient checkpointing, a smaller micro-batch, a shorter max length). The Base model page's memory plan applies it with one click; then press Retry.")
    } else if has(&["nan", "inf", "non-finite", "not finite", "loss became"]) {
        Some("The loss blew up: lower the learning rate (e.g. divide it by 10), keep the warm-up, and train in f32 rather than f16; then press Retry.")
    } else if has(&["out of memory", "cannot allocate", "allocation", "oom"]) {
        Some("Out of memory: lower the batch (raise grad accum to keep the effective batch), lower max length, or a smaller LoRA rank; then press Retry.")
    } else if has(&["different settings"]) {
        Some("The run's checkpoint was written with other settings: press Retry to start this run over with the current ones.")
    } else if has(&["training data", "no training examples", "no examples left", "rows"]) {
        Some("The portion has no usable rows: check the Data page's issues, raise max length if examples were cut away, or choose fewer portions.")
    } else if has(&["training settings"]) {
        Some("A training setting is out of range: fix it in the settings above; then press Retry.")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::advice;

    #[test]
    fn each_kind_of_failure_has_its_advice() {
        let nan = "train sub-1: the loss became NaN at step 3; stopped without saving this step (the last good checkpoint is kept). Lower the learning rate, or use f32 instead of f16";
        assert!(advice(nan).unwrap().contains("lower the learning rate"));
        assert!(advice("CUDA error: out of memory").unwrap().contains("lower the batch"));
        assert!(advice("train/sub-0: checkpoint: was written with different settings; use another output folder")
            .unwrap()
            .contains("Retry"));
        assert!(advice("training data: no training examples").unwrap().contains("rows"));
        assert_eq!(advice("the disk is full"), None);
        let refused = "train sub-0: refused before loading anything: training needs about 12 GiB (activations 9 GiB) but cpu has 4 GiB free. To fit, either turn on gradient checkpointing";
        assert!(advice(refused).unwrap().contains("memory plan"));
    }
}
