//! End-to-end tests, in one binary so the suite links once. Tiny models live in
//! `tests/fixtures/`; real small models are fetched by `scripts/fetch-test-models.sh`
//! (SmolLM2 and MiniLM, found through `common::smollm2_or_skip` / `common::minilm_or_skip`) and
//! shared data files are read from `$DTM_DATA_DIR` (default `<crate root>/../shared/data`, found
//! through `common::data_file`). When such an input is missing, the test fails under CI (the
//! environment variable `CI` set and not empty), with a message naming the file and how to
//! provide it; elsewhere it prints `SKIPPED <test>: ...` and passes. The only opt-in test is
//! `peft_parity::peft_check_on_a_chosen_model`, which runs when its `DTM_PEFT_CHECK_*` variables
//! are set.

mod common;

mod app;
#[cfg(feature = "gui")]
mod app_about;
mod app_compare;
mod app_data;
mod app_demo;
mod app_merge;
#[cfg(feature = "gui")]
mod app_model;
mod app_playground;
mod app_snapshots;
mod app_train;
mod bad_input;
mod cluster_sklearn;
mod data_load;
mod data_parquet;
mod data_tokenize;
mod demo;
mod disperse_cluster;
mod disperse_minilm;
mod eval_bad_input;
mod eval_cli;
mod eval_smollm2;
mod generation_batch;
mod gguf_loading;
mod gguf_sentencepiece;
mod gguf_writer;
mod gradients;
mod merge_bad_input;
mod merge_fisher;
mod merge_smollm2;
mod merge_tiny;
mod model_parity;
mod packaging;
mod peft_parity;
mod pipeline;
mod pipeline_kill;
mod pipeline_slurm;
mod report;
mod smollm2;
mod stage_contract;
mod train_checkpointing;
mod train_lora;
mod train_precision;
mod train_quantized;
