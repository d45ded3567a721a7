//! The orchestrator: one project file (`dtm.toml`), a plan of stages over a run directory, stamps
//! that say which stages are done, stale or pending, and a runner that takes a project from data
//! to report. Both front ends run projects through [`run_project`] and [`project_status`].

pub mod edit;
pub mod error;
pub mod file;
pub mod init;
pub mod plan;
pub mod project;
pub mod records;
pub mod run;
pub mod slurm;
pub mod stages;

pub use edit::{add_merge, parse_assignment, set_setting, set_settings};
pub use error::PipelineError;
pub use init::{init_project, InitRequest};
pub use plan::StageId;
pub use project::{Project, PROJECT_FILE};
pub use records::StageState;
pub use run::{project_status, run_project, Action, RunOptions, RunSummary, StageStatus};
pub use slurm::{write_slurm, SlurmOptions};
