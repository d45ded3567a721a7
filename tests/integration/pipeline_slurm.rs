//! The Slurm scripts of a project: they parse (`bash -n`), and running the prepare job, every task
//! of the training array one after another, and the finish job on the CPU reaches the report that
//! `run` reaches.

use crate::pipeline::project;
use std::path::Path;
use std::process::Command;

fn dtm(args: &[&str], dir: &Path) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_dtm-studio")).args(args).arg(dir).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn bash(script: &Path, task: Option<usize>) {
    let mut cmd = Command::new("bash");
    cmd.arg(script).env("DTM_STUDIO", env!("CARGO_BIN_EXE_dtm-studio"));
    if let Some(t) = task {
        cmd.env("SLURM_ARRAY_TASK_ID", t.to_string());
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}: {}", script.display(), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn pipeline_slurm_scripts_reach_the_same_report_as_run() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    project(a.path(), "0.5, 0.5", 4);
    project(b.path(), "0.5, 0.5", 4);
    dtm(&["slurm", "--partition", "gpu", "--time", "02:00:00"], a.path());
    let slurm = a.path().join("slurm");
    for name in ["prepare.sbatch", "train.sbatch", "finish.sbatch", "submit.sh"] {
        let out = Command::new("bash").arg("-n").arg(slurm.join(name)).output().unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let train = std::fs::read_to_string(slurm.join("train.sbatch")).unwrap();
    assert!(
        train.contains("#SBATCH --array=0-2") && train.contains("#SBATCH --partition=gpu") && train.contains("RUNS=(vanilla sub-0 sub-1)"),
        "{train}"
    );
    let submit = std::fs::read_to_string(slurm.join("submit.sh")).unwrap();
    assert!(
        submit.contains("--dependency=afterok:\"$prepare\" train.sbatch")
            && submit.contains("--dependency=afterok:\"$train\" finish.sbatch")
    );
    bash(&slurm.join("prepare.sbatch"), None);
    for task in 0..3 {
        bash(&slurm.join("train.sbatch"), Some(task));
    }
    bash(&slurm.join("finish.sbatch"), None);
    dtm(&["run"], b.path());
    let report = |dir: &Path| std::fs::read_to_string(dir.join("report/results.csv")).unwrap();
    assert_eq!(report(a.path()), report(b.path()));
}
