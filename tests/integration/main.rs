//! End-to-end tests, in one binary so the suite links once. Tiny models live in
//! `tests/fixtures/`; real small models are fetched by `scripts/fetch-test-models.sh` and tests
//! that need them say SKIPPED when they are absent.

mod common;

mod bad_input;
mod data_load;
mod data_parquet;
mod data_tokenize;
mod disperse_cluster;
mod disperse_minilm;
mod eval_bad_input;
mod eval_cli;
mod eval_smollm2;
mod generation_batch;
mod gguf_loading;
mod gradients;
mod merge_bad_input;
mod merge_fisher;
mod merge_smollm2;
mod merge_tiny;
mod model_parity;
mod peft_parity;
mod report;
mod smollm2;
mod stage_contract;
mod train_lora;
