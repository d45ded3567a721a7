//! Instruction data: every format loads, and bad input ends with a clear error naming the file,
//! the line or row, and the field.

use crate::common::data_file;
use dtm_studio::engine::data::{load_dataset, ColumnMapping, DataError, DataFormat, IssueKind, LoadDataOptions};
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn load_err(path: &Path, opts: &LoadDataOptions) -> String {
    match load_dataset(path, opts) {
        Ok(ds) => panic!("{} loaded {} examples but should fail", path.display(), ds.examples.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn data_alpaca_json_array_with_lines_and_fields() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "a.json",
        "[\n  {\"instruction\": \"Add\", \"input\": \"1 2\", \"output\": \"3\", \"category\": \"math\"},\n  {\"instruction\": \"Say hi\",\n   \"input\": \"\", \"output\": \"hi\"}\n]\n",
    );
    let ds = load_dataset(&p, &LoadDataOptions::default()).unwrap();
    assert_eq!(ds.format, DataFormat::Alpaca);
    assert_eq!(ds.examples.len(), 2);
    assert_eq!(ds.examples[0].instruction_text(), "Add\n\n1 2");
    assert_eq!(ds.examples[0].fields["category"], "math");
    assert_eq!(ds.examples[1].instruction_text(), "Say hi");
    assert_eq!(ds.examples[1].response_text(), "hi");
    assert_eq!((ds.examples[1].row, ds.examples[1].line), (1, 3));
    assert_eq!(ds.sha256.len(), 64);
    assert_eq!(ds.report.records, 2);
}

#[test]
fn data_alpaca_jsonl_and_sharegpt_and_messages_detected() {
    let dir = tempfile::tempdir().unwrap();
    let alpaca =
        write(dir.path(), "a.jsonl", "{\"instruction\": \"q\", \"output\": \"a\"}\n{\"instruction\": \"q2\", \"output\": \"a2\"}\n");
    let share = write(
        dir.path(),
        "s.json",
        r#"[{"id": "c1", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}, {"from": "human", "value": "and?"}, {"from": "gpt", "value": "bye"}]}]"#,
    );
    let msgs = write(dir.path(), "m.jsonl", "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"u\"}, {\"role\": \"assistant\", \"content\": \"a\"}]}\n");
    let opts = LoadDataOptions::default();
    let a = load_dataset(&alpaca, &opts).unwrap();
    assert_eq!((a.format, a.examples.len(), a.examples[1].line), (DataFormat::Alpaca, 2, 2));
    let s = load_dataset(&share, &opts).unwrap();
    assert_eq!((s.format, s.examples[0].assistant_turns(), s.report.multi_turn), (DataFormat::ShareGpt, 2, 1));
    assert_eq!(s.examples[0].fields["id"], "c1");
    let m = load_dataset(&msgs, &opts).unwrap();
    assert_eq!((m.format, m.examples[0].system.as_deref(), m.report.with_system), (DataFormat::Messages, Some("S"), 1));
    // Forcing a format that does not fit names the field it lacks.
    let err = load_err(&msgs, &LoadDataOptions { format: Some(DataFormat::Alpaca), ..Default::default() });
    assert!(err.contains("m.jsonl: row 0 (line 1): field 'instruction' is missing (the record has: messages)"), "{err}");
}

#[test]
fn data_broken_jsonl_line_37_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 1..=40 {
        if i == 37 {
            text += "{\"instruction\": \"q\", \"output\": \"a\"\n";
        } else {
            text += &format!("{{\"instruction\": \"q{i}\", \"output\": \"a{i}\"}}\n");
        }
    }
    let p = write(dir.path(), "data.jsonl", &text);
    let err = load_err(&p, &LoadDataOptions::default());
    assert!(err.contains("data.jsonl:37: invalid JSON"), "{err}");
    // Skipping bad rows keeps the other 39 and reports the broken one.
    let ds = load_dataset(&p, &LoadDataOptions { skip_bad_rows: true, ..Default::default() }).unwrap();
    assert_eq!((ds.examples.len(), ds.report.malformed), (39, 1));
    assert_eq!((ds.report.issues[0].line, ds.report.issues[0].kind), (37, IssueKind::Malformed));
}

#[test]
fn data_example_without_response_names_the_row_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let p =
        write(dir.path(), "data.json", "[\n{\"instruction\": \"a\", \"output\": \"b\"},\n{\"instruction\": \"c\", \"output\": \"\"}\n]");
    let err = load_err(&p, &LoadDataOptions::default());
    assert!(err.contains("data.json: row 1 (line 3): field 'output' is empty") && err.contains("no response"), "{err}");
    let p = write(dir.path(), "conv.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"only a question\"}]}\n");
    let err = load_err(&p, &LoadDataOptions::default());
    assert!(err.contains("conv.jsonl: row 0 (line 1)") && err.contains("no response"), "{err}");
}

#[test]
fn data_empty_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("e.json", ""), ("w.jsonl", "  \n\n"), ("arr.json", "[]"), ("h.csv", "instruction,output\n")] {
        let p = write(dir.path(), name, text);
        let err = load_err(&p, &LoadDataOptions::default());
        assert!(err.contains(name) && err.contains("empty"), "{name}: {err}");
    }
}

#[test]
fn data_all_rows_bad_is_an_error_even_when_skipping() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "bad.jsonl", "{\"instruction\": \"q\", \"output\": \"\"}\nnot json\n");
    let err = load_err(&p, &LoadDataOptions { skip_bad_rows: true, ..Default::default() });
    assert!(err.contains("all 2 records were skipped") && err.contains("1 malformed, 1 empty"), "{err}");
}

#[test]
fn data_csv_with_mapping_and_missing_columns() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "qa.csv", "question,answer,topic\n\"What is 2+2?\",4,math\n\"Multi\nline\",\"yes, it is\",misc\n");
    let ds = load_dataset(&p, &LoadDataOptions::default()).unwrap();
    assert_eq!(ds.format, DataFormat::Csv);
    assert_eq!(ds.examples.len(), 2);
    assert_eq!(ds.examples[1].instruction_text(), "Multi\nline");
    assert_eq!(ds.examples[1].response_text(), "yes, it is");
    assert_eq!(ds.examples[1].fields["topic"], "misc");
    assert_eq!(ds.examples[1].line, 3);
    let opts = LoadDataOptions { columns: Some(ColumnMapping::parse("prompt=prompt,response=reply").unwrap()), ..Default::default() };
    let err = load_err(&p, &opts);
    assert!(
        err.contains("qa.csv")
            && err.contains("'prompt' (instruction)")
            && err.contains("'reply' (output)")
            && err.contains("'question', 'answer', 'topic'"),
        "{err}"
    );
    let p = write(dir.path(), "nothing.csv", "a,b\n1,2\n");
    let err = load_err(&p, &LoadDataOptions::default());
    assert!(err.contains("missing column") && err.contains("'a', 'b'"), "{err}");
}

#[test]
fn data_duplicates_counted_and_optionally_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "d.jsonl",
        "{\"instruction\": \"q\", \"output\": \"a\"}\n{\"instruction\": \"q\", \"output\": \"b\"}\n{\"instruction\": \"q\", \"output\": \"a\"}\n",
    );
    let ds = load_dataset(&p, &LoadDataOptions::default()).unwrap();
    assert_eq!((ds.examples.len(), ds.report.duplicates, ds.report.duplicates_dropped), (3, 1, 0));
    assert!(ds.report.issues[0].message.contains("row 0"), "{}", ds.report.issues[0]);
    let ds = load_dataset(&p, &LoadDataOptions { drop_duplicates: true, ..Default::default() }).unwrap();
    assert_eq!((ds.examples.len(), ds.report.duplicates_dropped), (2, 1));
    assert_eq!(ds.examples.iter().map(|e| e.row).collect::<Vec<_>>(), vec![0, 1]);
}

#[test]
fn data_size_bounds_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "big.jsonl", &format!("{{\"instruction\": \"q\", \"output\": \"{}\"}}\n", "x".repeat(500)));
    let err = load_err(&p, &LoadDataOptions { max_file_bytes: 100, ..Default::default() });
    assert!(err.contains("big.jsonl") && err.contains("the file is") && err.contains("limit of 100 bytes"), "{err}");
    let err = load_err(&p, &LoadDataOptions { max_line_bytes: 100, ..Default::default() });
    assert!(err.contains("line 1 is") && err.contains("limit of 100 bytes"), "{err}");
}

#[test]
fn data_unknown_shape_lists_keys_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "t.jsonl", "{\"text\": \"plain pretraining text\"}\n");
    let err = load_err(&p, &LoadDataOptions::default());
    assert!(err.contains("'text'") && err.contains("ShareGPT") && err.contains("`columns`"), "{err}");
    assert!(matches!(load_dataset(&p, &LoadDataOptions::default()), Err(DataError::UnknownFormat { .. })));
}

#[test]
fn data_real_alpaca_demo_has_999_examples() {
    let Some(p) = data_file("data_real_alpaca_demo_has_999_examples", "instruct/alpaca_en_demo.json") else {
        return;
    };
    let ds = load_dataset(&p, &LoadDataOptions::default()).unwrap();
    assert_eq!((ds.format, ds.examples.len(), ds.report.records), (DataFormat::Alpaca, 999, 999));
    assert!(ds.examples[0].instruction_text().starts_with("Describe a process of making crepes."));
    assert!(ds.examples.windows(2).all(|w| w[0].line < w[1].line));
    assert_eq!(ds.examples[0].line, 2);
}

#[test]
fn data_real_sharegpt_dummy_loads() {
    let Some(p) = data_file("data_real_sharegpt_dummy_loads", "instruct/sharegpt_dummy.json") else {
        return;
    };
    let ds = load_dataset(&p, &LoadDataOptions::default()).unwrap();
    assert_eq!(ds.format, DataFormat::ShareGpt);
    assert_eq!(ds.report.records, 500);
    // 500 conversations, all well formed; 333 have more than one assistant turn (counted in Python).
    assert_eq!((ds.examples.len(), ds.report.skipped(), ds.report.trimmed_turns, ds.report.multi_turn), (500, 0, 0, 333));
    assert_eq!(ds.examples[0].instruction_text(), "Who are you?");
}

#[test]
fn data_cli_validate_lists_problems_and_fails_without_skip() {
    let dir = tempfile::tempdir().unwrap();
    let mut text: String = (1..=40).map(|i| format!("{{\"instruction\": \"q{i}\", \"output\": \"a{i}\"}}\n")).collect();
    text = text.replace("{\"instruction\": \"q37\", \"output\": \"a37\"}", "{\"instruction\": \"q37\", \"output\": ");
    let p = write(dir.path(), "data.jsonl", &text);
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dtm-studio")).args(["data", "validate"]).arg(&p).args(extra).output().unwrap()
    };
    let out = run(&[]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("data.jsonl: row 36 (line 37): invalid JSON") && stdout.contains("examples kept:     39"), "{stdout}");
    assert!(stderr.contains("--skip-bad-rows"), "{stderr}");
    let out = run(&["--skip-bad-rows", "--json"]);
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["report"]["examples"].as_u64(), report["report"]["malformed"].as_u64()), (Some(39), Some(1)));
    assert_eq!(report["report"]["issues"][0]["line"], 37);
}

#[test]
fn data_optional_keys_are_read_on_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "opt.jsonl",
        "{\"instruction\": \"a\", \"output\": \"b\"}\n{\"instruction\": \"c\", \"input\": \"i\", \"output\": \"d\", \"system\": \"S\"}\n",
    );
    let ds = load_dataset(&p, &LoadDataOptions::default()).unwrap();
    assert_eq!((ds.examples[1].system.as_deref(), ds.examples[1].input_text()), (Some("S"), "i"));
    assert!(!ds.examples[1].fields.contains_key("system"));
}
