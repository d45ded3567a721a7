//! Supervised fine-tuning of LoRA adapters on a frozen base: batches, loss, optimiser,
//! schedules, checkpoints and the loop.

pub mod batch;
pub mod checkpoint;
pub mod config;
pub mod cross_entropy;
pub mod error;
pub mod gradients;
pub mod loss;
pub mod loss_scale;
pub mod memory_fit;
pub mod memory_plan;
pub mod optimizer;
pub mod schedule;
pub mod sft;
pub mod state;
pub mod trainer;

pub use config::TrainConfig;
pub use error::TrainError;
pub use sft::{run_sft, SftRequest};
pub use trainer::{train, TrainJob};
