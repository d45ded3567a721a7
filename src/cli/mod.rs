//! The headless front end: subcommands that call the same engine functions as the GUI.

mod bench;
mod chat;
mod cluster;
mod compare;
mod data;
mod demo;
mod embed;
mod eval;
mod fisher;
mod inspect;
mod merge;
pub mod open;
mod plan;
mod portion;
mod progress;
mod project;
mod report;
mod spelling;
mod train;

use crate::engine::device::{open_device, DeviceRequest, WorkDType};
use crate::engine::model::{load_model_stage, LoadOptions, LoadRequest, LoadedModel};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
pub use progress::interrupt_token;
use progress::with_progress;
use std::path::PathBuf;

/// DTM Studio: Disperse-Then-Merge instruction tuning. With no subcommand, opens the app window.
#[derive(Debug, Parser)]
#[command(name = "dtm-studio", version = crate::build_info::VERSION_TEXT, about, long_about = None)]
pub struct Cli {
    /// What to do; omit to open the GUI.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The headless commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the window on a project folder, a dtm.toml, a data file or a model: `open DIR --page disperse`.
    Open(open::OpenArgs),
    /// The teaching demo: a synthetic world where the alignment tax is real, run through every stage in minutes on a CPU.
    Demo(demo::DemoArgs),
    /// Start a project: a folder with a commented dtm.toml (model, data, K, benchmarks, the paper's defaults).
    Init(project::InitArgs),
    /// Run a project (data -> disperse -> train vanilla and K sub-models -> merge -> evaluate -> report); resumes.
    Run(project::RunArgs),
    /// Every stage of a project: done, stale, pending or failed, with its time and key figure.
    Status(project::StatusArgs),
    /// Change settings of a project's dtm.toml in place, keeping its comments: `set DIR disperse.k=6 train.lr=2e-4`.
    Set(project::SetArgs),
    /// Slurm batch scripts for a project: prepare, a training job array (one task per model), finish; and submit.sh.
    Slurm(project::SlurmArgs),
    /// Describe a model: architecture, parameters, dtype, vocabulary, context, chat template.
    Inspect(inspect::InspectArgs),
    /// The memory a training run needs, before loading anything: part by part, with and without
    /// gradient checkpointing, against the device's free memory, and what to change when it does not fit.
    Plan(plan::PlanArgs),
    /// Train a LoRA adapter on instruction data (Ctrl-C checkpoints; run again to resume).
    Train(train::TrainArgs),
    /// Answer one prompt through the model's chat template, streaming the reply.
    Chat(chat::ChatArgs),
    /// Measure throughput; prints one JSON line per figure.
    Bench(bench::BenchArgs),
    /// Score a model on benchmarks (lm-eval conventions); writes DIR/<benchmark>.json and prints a table.
    Eval(eval::EvalArgs),
    /// Compare result folders of several models: scores and the alignment tax against the base.
    Compare(compare::CompareArgs),
    /// Loss-reduction ratio ΔL_train / ΔL_val per training segment, from a trainer_state.json.
    Diagnose(compare::DiagnoseArgs),
    /// Merge LoRA sub-models (linear, ties, dare, fisher, ...) into one adapter or a full model folder.
    Merge(merge::MergeArgs),
    /// A sub-model's Fisher diagonals on its own portion (fisher.safetensors, for `merge --method fisher`).
    Fisher(fisher::FisherArgs),
    /// Instruction data: `data validate FILE` prints counts, skipped / duplicate / over-long rows with file:line.
    Data(data::DataArgs),
    /// Sentence embeddings of a dataset (instruction, response or both) into a safetensors file.
    Embed(embed::EmbedArgs),
    /// Split a dataset into K portions (k-means, balanced, random, by column) with a 2-D map and keywords.
    Cluster(cluster::ClusterArgs),
    /// Write report.md, results.csv and PNG charts (scores, tax, loss, ratio, portions) from result, run and cluster files.
    Report(report::ReportArgs),
}

/// Where and how to run a model (shared by every command that loads one).
#[derive(Debug, Clone, Args)]
pub struct RuntimeArgs {
    /// auto (CUDA, then Metal, then CPU), cpu, cuda[:N] or metal[:N].
    #[arg(long, default_value = "auto")]
    pub device: DeviceRequest,
    /// Working dtype: f32, bf16 or f16 (default: f32 on CPU, bf16 on GPUs).
    #[arg(long)]
    pub dtype: Option<WorkDType>,
    /// De-quantise a GGUF base to the working dtype instead of keeping its quantized blocks.
    #[arg(long)]
    pub dequantize: bool,
}

impl RuntimeArgs {
    /// The device and dtype, with an optional adapter folded in.
    pub fn options(&self, adapter: Option<PathBuf>) -> anyhow::Result<LoadOptions> {
        Ok(LoadOptions { device: open_device(self.device)?, dtype: self.dtype.map(|d| d.0), adapter, keep_quantized: !self.dequantize })
    }

    /// Loads `model` (folder, .gguf or cached HF id) with an optional adapter, showing progress.
    pub fn load(&self, model: &str, adapter: Option<PathBuf>) -> anyhow::Result<LoadedModel> {
        let req = LoadRequest { model: model.to_string(), options: self.options(adapter)? };
        with_progress(|sink, cancel| load_model_stage(&req, sink, cancel)).with_context(|| format!("loading model '{model}'"))
    }
}

/// The headless commands this binary offers, for the no-display message.
pub const HEADLESS_COMMANDS: &str =
    "demo, init, run, status, set, slurm, inspect, plan, chat, train, bench, eval, compare, diagnose, merge, fisher, data, embed, cluster, report";

/// Runs one subcommand. Settings named in engine messages are spelled as this command line's
/// flags.
pub fn run(command: Command) -> anyhow::Result<()> {
    run_command(command).map_err(|e| anyhow::anyhow!(spelling::cli_spelling(&format!("{e:#}"))))
}

fn run_command(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Open(args) => open::open(args),
        Command::Demo(args) => demo::run(args),
        Command::Init(args) => project::init(args),
        Command::Run(args) => project::run(args),
        Command::Status(args) => project::status(args),
        Command::Set(args) => project::set(args),
        Command::Slurm(args) => project::slurm(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Train(args) => train::run(args),
        Command::Chat(args) => chat::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Diagnose(args) => compare::diagnose(args),
        Command::Merge(args) => merge::run(args),
        Command::Fisher(args) => fisher::run(args),
        Command::Data(args) => data::run(args),
        Command::Embed(args) => embed::run(args),
        Command::Cluster(args) => cluster::run(args),
        Command::Report(args) => report::run(args),
    }
}
