//! Evaluation: benchmark loaders, log-likelihood scoring and generation following
//! lm-evaluation-harness conventions (so the same model gives the same numbers there and here),
//! IFEval's instruction checkers, result files, comparison tables with the alignment tax, and the
//! loss-reduction-ratio diagnostic of training.
//!
//! Entry points: [`loaders::load_benchmark`] (`NAME:PATH` to a [`task::Benchmark`]),
//! [`run::evaluate`] (one model on one benchmark to a [`results::BenchmarkResult`]),
//! [`comparison::compare`] (result folders to a table) and
//! [`diagnose::loss_reduction_ratios`] (trainer state to ratios).

pub mod bench;
pub mod changed;
pub mod comparison;
pub mod diagnose;
pub mod error;
pub mod fewshot;
pub mod generative;
pub mod heldout;
pub mod ifeval;
pub mod loaders;
pub mod loglik;
pub mod metrics;
pub mod results;
pub mod run;
pub mod stage;
pub mod task;

pub use error::EvalError;
pub use loaders::{load_benchmark, BenchSpec};
pub use results::BenchmarkResult;
pub use run::{apply_limit, evaluate, EvalOptions, ModelIdentity};
pub use stage::{run_eval, EvalOutput, EvalRequest};
