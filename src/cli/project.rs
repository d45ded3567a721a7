//! `dtm-studio init`, `run` and `status`: a whole Disperse-Then-Merge experiment as one project
//! folder with a `dtm.toml`.

use super::progress::with_progress;
use crate::engine::pipeline::{
    init_project, parse_assignment, project_status, run_project, set_settings, write_slurm, Action, InitRequest, Project, RunOptions,
    SlurmOptions, StageState,
};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The project folder (created if missing).
    pub dir: PathBuf,
    /// Base model: a folder with config.json, a .gguf file, or a cached HF id.
    #[arg(long)]
    pub model: String,
    /// Instruction data file.
    #[arg(long)]
    pub data: PathBuf,
    /// Benchmarks as NAME:PATH (repeatable), e.g. arc_easy:bench/arc_easy_dev.jsonl.
    #[arg(long = "bench")]
    pub bench: Vec<String>,
    /// Number of portions (sub-models).
    #[arg(long, default_value_t = 4)]
    pub k: usize,
    /// Training preset: paper or quick.
    #[arg(long, default_value = "paper")]
    pub preset: String,
}

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The project folder (or its dtm.toml).
    pub dir: PathBuf,
    /// Only stages matching this pattern (repeatable; `*` matches anything), e.g. 'train:*'.
    #[arg(long)]
    pub only: Vec<String>,
    /// Start at this stage; earlier stages are left as they are.
    #[arg(long)]
    pub from: Option<String>,
    /// Run these stages again even when done (repeatable pattern).
    #[arg(long)]
    pub force: Vec<String>,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The project folder (or its dtm.toml).
    pub dir: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The project folder (or its dtm.toml).
    pub dir: PathBuf,
    /// Settings as KEY=VALUE: `disperse.k=6`, `train.lr=2e-4`, `merge.uniform.weights=[1,1,2]`.
    #[arg(required = true)]
    pub settings: Vec<String>,
}

/// Arguments of `slurm`.
#[derive(Debug, Args)]
pub struct SlurmArgs {
    /// The project folder (or its dtm.toml), on a filesystem the cluster's nodes share.
    pub dir: PathBuf,
    /// Slurm partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// GPUs per training task.
    #[arg(long, default_value_t = 1)]
    pub gpus_per_task: usize,
    /// Time limit of each job, e.g. 24:00:00.
    #[arg(long)]
    pub time: Option<String>,
    /// CPU cores per task.
    #[arg(long, default_value_t = 8)]
    pub cpus_per_task: usize,
}

/// Runs `slurm`.
pub fn slurm(args: SlurmArgs) -> anyhow::Result<()> {
    let project = Project::load(&args.dir)?;
    let binary = std::env::current_exe()?;
    let opts = SlurmOptions {
        partition: args.partition,
        gpus_per_task: args.gpus_per_task,
        time: args.time,
        cpus_per_task: args.cpus_per_task,
        binary,
    };
    for path in write_slurm(&project, &opts)? {
        println!("wrote {}", path.display());
    }
    println!("submit with: bash {}", project.dir.join("slurm/submit.sh").display());
    Ok(())
}

/// Runs `init`.
pub fn init(args: InitArgs) -> anyhow::Result<()> {
    let benchmarks = args
        .bench
        .iter()
        .map(|b| {
            b.split_once(':')
                .map(|(n, p)| (n.to_string(), PathBuf::from(p)))
                .ok_or_else(|| anyhow::anyhow!("--bench '{b}': write NAME:PATH"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let req = InitRequest { dir: args.dir.clone(), model: args.model, data: args.data, benchmarks, k: args.k, preset: args.preset };
    let project = init_project(&req)?;
    println!("wrote {}; run it with `dtm-studio run {}`", project.file.display(), args.dir.display());
    Ok(())
}

/// Runs `run`, then prints what each stage did.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let opts = RunOptions { only: args.only, from: args.from, force: args.force };
    let summary = with_progress(|sink, cancel| run_project(&args.dir, &opts, sink, cancel))?;
    let ran = summary.stages.iter().filter(|(_, a)| matches!(a, Action::Ran { .. })).count();
    let done = summary.stages.iter().filter(|(_, a)| *a == Action::Done).count();
    for (stage, action) in &summary.stages {
        if let Action::Blocked { by } = action {
            println!("  {stage}: not run, {by} is not done");
        }
    }
    println!("{ran} stage(s) ran, {done} already done; report in {}", args.dir.join("report").display());
    Ok(())
}

/// `set`: changes settings in dtm.toml, keeping its comments; all or none.
pub fn set(args: SetArgs) -> anyhow::Result<()> {
    let changes = args.settings.iter().map(|s| parse_assignment(s)).collect::<Result<Vec<_>, _>>()?;
    let project = set_settings(&args.dir, &changes)?;
    for (key, value) in &changes {
        println!("{}: {key} = {}", project.file.display(), value.to_string().trim());
    }
    Ok(())
}

/// Runs `status`.
pub fn status(args: StatusArgs) -> anyhow::Result<()> {
    let stages = project_status(&args.dir)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&stages)?);
        return Ok(());
    }
    let width = stages.iter().map(|s| s.stage.len()).max().unwrap_or(5);
    println!("{:<width$}  {:<8} {:>9}  figure", "stage", "state", "seconds");
    for s in &stages {
        let state = match s.state {
            StageState::Done => "done",
            StageState::Stale => "stale",
            StageState::Pending => "pending",
            StageState::Failed => "failed",
            StageState::Running => "running",
        };
        let secs = s.seconds.map(|x| format!("{x:.1}")).unwrap_or_default();
        println!("{:<width$}  {state:<8} {secs:>9}  {}", s.stage, s.figure.as_deref().unwrap_or(""));
    }
    Ok(())
}
