//! A project on a Slurm cluster: three batch scripts chained by `--dependency=afterok` — prepare
//! (data, embed, cluster), a job array that trains the vanilla model and each sub-model (one task
//! each), and finish (merges, evaluations, report) — plus `submit.sh`. The run directory on a
//! shared filesystem is the only coordination: every task is `dtm-studio run DIR --only ...`, and
//! tasks that select different stages hold different locks.

use super::error::PipelineError;
use super::project::Project;
use std::path::{Path, PathBuf};

/// Resources asked of Slurm.
#[derive(Debug, Clone, Default)]
pub struct SlurmOptions {
    /// `--partition`, if any.
    pub partition: Option<String>,
    /// GPUs per training task (0: none asked).
    pub gpus_per_task: usize,
    /// `--time` of each job, e.g. `24:00:00`.
    pub time: Option<String>,
    /// CPU cores per task.
    pub cpus_per_task: usize,
    /// The `dtm-studio` binary the jobs run (overridable with `$DTM_STUDIO` at submit time).
    pub binary: PathBuf,
}

fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The `#SBATCH` lines of a job, then the shell preamble.
fn header(name: &str, project_dir: &Path, opts: &SlurmOptions, gpus: usize, extra: &str) -> String {
    let mut h = format!("#!/usr/bin/env bash\n#SBATCH --job-name=dtm-{name}\n#SBATCH --cpus-per-task={}\n", opts.cpus_per_task.max(1));
    if let Some(p) = &opts.partition {
        h.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(t) = &opts.time {
        h.push_str(&format!("#SBATCH --time={t}\n"));
    }
    if gpus > 0 {
        h.push_str(&format!("#SBATCH --gpus-per-task={gpus}\n"));
    }
    let log_name = if extra.is_empty() { "%x-%j.out" } else { "%x-%A_%a.out" };
    h.push_str(&format!("#SBATCH --output={}\n{extra}", project_dir.join("slurm/logs").join(log_name).display()));
    h.push_str(&format!(
        "set -euo pipefail\nDTM_STUDIO=${{DTM_STUDIO:-{}}}\nPROJECT={}\n",
        quoted(&opts.binary.to_string_lossy()),
        quoted(&project_dir.to_string_lossy())
    ));
    h
}

/// Writes `slurm/{prepare,train,finish}.sbatch` and `slurm/submit.sh` into the project folder.
pub fn write_slurm(project: &Project, opts: &SlurmOptions) -> Result<Vec<PathBuf>, PipelineError> {
    let dir = std::fs::canonicalize(&project.dir).unwrap_or_else(|_| project.dir.clone());
    let out = dir.join("slurm");
    std::fs::create_dir_all(out.join("logs")).map_err(|e| PipelineError::io(&out, e))?;
    let mut runs: Vec<String> = Vec::new();
    if project.vanilla {
        runs.push("vanilla".into());
    }
    runs.extend((0..project.k()).map(|i| format!("sub-{i}")));
    let prepare =
        format!("{}\"$DTM_STUDIO\" run \"$PROJECT\" --only data --only embed --only cluster\n", header("prepare", &dir, opts, 0, ""));
    let array = format!("#SBATCH --array=0-{}\n", runs.len().saturating_sub(1));
    let train = format!(
        "{}RUNS=({})\n\"$DTM_STUDIO\" run \"$PROJECT\" --only \"train:${{RUNS[$SLURM_ARRAY_TASK_ID]}}\"\n",
        header("train", &dir, opts, opts.gpus_per_task, &array),
        runs.join(" ")
    );
    let finish = format!("{}\"$DTM_STUDIO\" run \"$PROJECT\"\n", header("finish", &dir, opts, opts.gpus_per_task.min(1), ""));
    let submit = "#!/usr/bin/env bash\n# Submits the three jobs of this project, each waiting for the one before to succeed.\nset -euo pipefail\ncd \"$(dirname \"$0\")\"\nprepare=$(sbatch --parsable prepare.sbatch)\ntrain=$(sbatch --parsable --dependency=afterok:\"$prepare\" train.sbatch)\nfinish=$(sbatch --parsable --dependency=afterok:\"$train\" finish.sbatch)\necho \"submitted: prepare $prepare, train $train, finish $finish\"\n";
    let mut written = Vec::new();
    for (name, text) in [("prepare.sbatch", prepare), ("train.sbatch", train), ("finish.sbatch", finish), ("submit.sh", submit.to_string())]
    {
        let path = out.join(name);
        crate::engine::fsutil::write_atomic(&path, text.as_bytes()).map_err(|e| PipelineError::io(&path, e))?;
        set_executable(&path);
        written.push(path);
    }
    Ok(written)
}

fn set_executable(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
    }
}
