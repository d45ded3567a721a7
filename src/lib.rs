//! DTM Studio: Disperse-Then-Merge instruction tuning — cluster the data, train one LoRA
//! sub-model per cluster, merge them, and measure the alignment tax.
//!
//! `engine` computes and never touches the GUI; `cli` and `app` are two front ends over it.

pub mod build_info;
pub mod cli;
pub mod engine;

#[cfg(feature = "gui")]
pub mod app;
