//! End-to-end tests, in one binary so the suite links once. Tiny models live in
//! `tests/fixtures/`; real small models are fetched by `scripts/fetch-test-models.sh` and tests
//! that need them say SKIPPED when they are absent.

mod common;

mod bad_input;
mod gguf_loading;
mod gradients;
mod model_parity;
mod smollm2;
mod train_lora;
