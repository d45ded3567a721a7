//! `dtm-studio data validate FILE`: read instruction data, print the validation report (counts,
//! skipped / duplicate / trimmed rows with file:line and field), and with `--model` the token
//! lengths and what truncation to `--max-len` would do.

use super::progress::with_progress;
use crate::engine::data::{
    run_data_check, ColumnMapping, DataCheckOutcome, DataCheckRequest, DataFormat, LengthCheck, LoadDataOptions, PromptOptions,
    PromptTemplate,
};
use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Arguments of `data`.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// What to do with the data.
    #[command(subcommand)]
    pub command: DataCommand,
}

/// The `data` subcommands.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Read a data file and print its validation report.
    Validate(ValidateArgs),
}

/// Arguments of `data validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The data file: Alpaca / ShareGPT / OpenAI-messages JSON or JSONL, CSV or Parquet.
    pub file: PathBuf,
    /// Force the format (alpaca, sharegpt, messages, csv, parquet); detected by default.
    #[arg(long)]
    pub format: Option<DataFormat>,
    /// Column mapping for CSV / Parquet / flat JSON, e.g. `prompt=question,response=answer`.
    #[arg(long)]
    pub columns: Option<String>,
    /// Treat malformed or empty rows as skippable (exit 0 when other rows are usable).
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Model (folder, .gguf or cached id) whose tokenizer measures token lengths.
    #[arg(long)]
    pub model: Option<String>,
    /// Maximum length in tokens (with --model).
    #[arg(long, default_value_t = 1024)]
    pub max_len: usize,
    /// Prompt template for token lengths: alpaca or chat (the model's template).
    #[arg(long, default_value = "alpaca")]
    pub template: PromptTemplate,
    /// Count every turn of multi-turn examples (default: the first exchange, as the paper).
    #[arg(long)]
    pub all_turns: bool,
    /// How many issues to list.
    #[arg(long, default_value_t = 20)]
    pub show: usize,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `data ...`.
pub fn run(args: DataArgs) -> anyhow::Result<()> {
    match args.command {
        DataCommand::Validate(a) => validate(a),
    }
}

fn validate(args: ValidateArgs) -> anyhow::Result<()> {
    let columns = args.columns.as_deref().map(ColumnMapping::parse).transpose()?;
    // Read everything, skipping bad rows, so the report lists all problems at once.
    let req = DataCheckRequest {
        path: args.file.clone(),
        options: LoadDataOptions { format: args.format, columns, skip_bad_rows: true, ..Default::default() },
        lengths: args.model.as_ref().map(|model| LengthCheck {
            model: model.clone(),
            prompt: PromptOptions { template: args.template, max_len: args.max_len, first_turn_only: !args.all_turns },
        }),
    };
    let DataCheckOutcome { dataset: ds, tokenized } =
        with_progress(|sink, cancel| run_data_check(&req, sink, cancel)).with_context(|| format!("checking {}", args.file.display()))?;
    if args.json {
        let mut out = ds.manifest_json();
        out["tokenize"] = serde_json::to_value(&tokenized)?;
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{} ({}, sha256 {})", ds.path.display(), ds.format, &ds.sha256[..16]);
        print!("{}", ds.report.summary());
        if let Some(t) = &tokenized {
            println!("after truncation:  {}", t.summary());
        }
        let shown: Vec<_> = ds.report.issues.iter().take(args.show).collect();
        if !shown.is_empty() {
            println!("issues ({} in all, first {}):", ds.report.issues_total, shown.len());
            for issue in shown {
                let kind = serde_json::to_value(issue.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
                println!("  {}: {issue} [{kind}]", ds.path.display());
            }
        }
    }
    let skipped = ds.report.skipped();
    if skipped > 0 && !args.skip_bad_rows {
        anyhow::bail!(
            "{skipped} of {} records are malformed or empty (listed above); loading for training stops at the first of them unless bad rows are skipped (`skip_bad_rows`)",
            ds.report.records
        );
    }
    Ok(())
}
