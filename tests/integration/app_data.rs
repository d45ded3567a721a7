//! The Data page in the whole window, driven through egui_kittest: a file with a malformed
//! record and a duplicate shows both problems with their lines, clicking one shows its record,
//! the search narrows the table; in a project (SmolLM2's tokenizer) the page stops at the
//! malformed record, saves "skip malformed records" to dtm.toml when ticked, and then draws the
//! token-length histogram with the preset's cut.

use dtm_studio::app::open::{OpenTarget, StartRequest};
use dtm_studio::app::pages::Page;
use dtm_studio::app::settings::Settings;
use dtm_studio::app::StudioApp;
use dtm_studio::engine::pipeline::{init_project, InitRequest};
use egui::accesskit::Toggled;
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest wait for the workers (reading, tokenising) in one step of a test.
const WAIT: Duration = Duration::from_secs(20);

/// Five records: line 3 is not JSON, line 4 repeats line 1.
const RECORDS: &str = r#"{"instruction": "Say hi", "input": "", "output": "Hi there"}
{"instruction": "Name a colour", "input": "", "output": "Blue"}
{"instruction": "broken record"
{"instruction": "Say hi", "input": "", "output": "Hi there"}
{"instruction": "Add two numbers", "input": "2 and 3", "output": "The sum is 5."}
"#;

fn write_data(dir: &Path) -> PathBuf {
    let path = dir.join("mixed.jsonl");
    std::fs::write(&path, RECORDS).unwrap();
    path
}

/// The window, created inside the harness (so it uses the harness's context), opened on `start`.
/// The top bar's icons (☀, ▼) come from system fonts, which the harness does not load, hence
/// the allowed missing glyphs. The top bar's device picker has no accessible name (not this
/// page's widget), so the harness's own check is replaced by [`assert_page_widgets_named`].
fn window(start: StartRequest) -> Harness<'static, Option<StudioApp>> {
    // The accessibility check is done by `all_named` below, against the frame's own widgets.
    Harness::builder().with_size([1400.0, 1100.0]).allow_missing_glyphs().with_accessibility_check(false).build_ui_state(
        move |ui, app: &mut Option<StudioApp>| {
            let app =
                app.get_or_insert_with(|| StudioApp::new(ui.ctx(), Settings { last_project: None, ..Settings::default() }, start.clone()));
            app.frame_ui(ui);
        },
        None,
    )
}

/// Steps the window until `found` holds, sleeping between frames; panics with `what` after
/// [`WAIT`].
fn wait_for(harness: &mut Harness<'_, Option<StudioApp>>, what: &str, found: impl Fn(&Harness<'_, Option<StudioApp>>) -> bool) {
    let start = Instant::now();
    loop {
        harness.step();
        if found(harness) {
            return;
        }
        assert!(start.elapsed() < WAIT, "gave up waiting for {what} after {WAIT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every input widget without an accessible name is one the frame had before the page showed
/// anything (`baseline`): the page's own widgets all have names.
fn assert_page_widgets_named(harness: &Harness<'_, Option<StudioApp>>, baseline: &[String]) {
    let extra: Vec<String> = harness.unnamed_widgets().into_iter().filter(|w| !baseline.contains(w)).collect();
    assert!(extra.is_empty(), "widgets of the Data page without an accessible name: {extra:?}");
}

/// The whole text of the label containing `part` (a label's text is its accessible value).
fn text_of(harness: &Harness<'_, Option<StudioApp>>, part: &str) -> String {
    let node = harness.get_by_label_contains(part).accesskit_node();
    node.label().filter(|l| !l.is_empty()).or_else(|| node.value()).unwrap_or_default()
}

fn has(harness: &Harness<'_, Option<StudioApp>>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

#[test]
fn app_data_lists_problems_by_line_and_shows_the_clicked_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_data(dir.path());
    let mut empty = window(StartRequest { target: None, page: Some(Page::Data) });
    empty.step();
    let baseline = empty.unnamed_widgets();
    let mut harness = window(StartRequest { target: Some(OpenTarget::Data(path)), page: None });
    wait_for(&mut harness, "the validation report", |h| has(h, "invalid JSON"));
    assert_page_widgets_named(&harness, &baseline);

    // The malformed record is listed with its place in the file, the duplicate with the row it repeats.
    let malformed = harness.get_by_label_contains("invalid JSON");
    let label = malformed.accesskit_node().label().unwrap_or_default();
    assert!(label.starts_with("malformed: row 2 (line 3): invalid JSON"), "{label}");
    assert!(has(&harness, "duplicate: row 3 (line 4): duplicates row 0 exactly"));
    assert!(has(&harness, "4 of 4 rows"), "four examples kept");
    assert!(has(&harness, "Token lengths need a base model"), "no project, so no tokenizer");

    // Clicking the malformed record shows its text as it is in the file.
    malformed.click();
    wait_for(&mut harness, "the skipped record", |h| has(h, "was skipped"));
    assert!(has(&harness, "Record 2 (line 3) was skipped"));
    assert!(has(&harness, r#"{"instruction": "broken record""#), "the record's source line is shown");

    // Clicking the duplicate selects its row in the table and shows it whole.
    harness.get_by_label_contains("duplicates row 0 exactly").click();
    wait_for(&mut harness, "the duplicate's row", |h| has(h, "Line 4 · record 3"));
    let row = harness.get_by_label("line 4: Say hi");
    assert_eq!(row.accesskit_node().toggled(), Some(Toggled::True), "the table row of line 4 is selected");
    assert_eq!(harness.get_by_label("line 1: Say hi").accesskit_node().toggled(), Some(Toggled::False));
    assert!(has(&harness, "Hi there"), "the output is in the detail panel");

    // The search narrows the table to the matching rows.
    let search = harness.get_by(|n| n.data().placeholder() == Some("search instruction, input and output"));
    search.focus();
    search.type_text("COLOUR");
    wait_for(&mut harness, "the search result", |h| has(h, "1 of 4 rows"));
    assert!(has(&harness, "line 2: Name a colour"));
    assert!(harness.query_by_label("line 5: Add two numbers").is_none(), "rows without the word are hidden");
    assert_page_widgets_named(&harness, &baseline);
}

#[test]
fn app_data_says_what_to_do_without_a_file() {
    let mut harness = window(StartRequest { target: None, page: Some(Page::Data) });
    harness.step();
    harness.step();
    assert!(has(&harness, "No data file yet"));
    assert!(!has(&harness, "Token lengths"), "nothing to measure yet");
}

#[test]
fn app_data_in_a_project_saves_the_option_and_draws_the_lengths() {
    let Some(model) = crate::common::smollm2_or_skip("app_data_in_a_project_saves_the_option_and_draws_the_lengths") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = write_data(tmp.path());
    let dir = tmp.path().join("project");
    let req =
        InitRequest { dir: dir.clone(), model: model.display().to_string(), data, benchmarks: Vec::new(), k: 2, preset: "quick".into() };
    init_project(&req).unwrap();
    let mut harness = window(StartRequest { target: Some(OpenTarget::Project(dir.clone())), page: Some(Page::Data) });

    // The project stops at the first malformed record, and says where it is.
    wait_for(&mut harness, "the project's data error", |h| has(h, "The file could not be used"));
    let error = text_of(&harness, "The file could not be used");
    assert!(error.contains("mixed.jsonl:3: invalid JSON"), "{error}");

    // Ticking the option saves it to dtm.toml; the re-read project is checked again, with lengths.
    harness.get_by_label("Skip malformed records").click();
    wait_for(&mut harness, "the histogram", |h| has(h, "maximum length 256 (the quick preset)"));
    let toml = std::fs::read_to_string(dir.join("dtm.toml")).unwrap();
    assert!(toml.contains("skip_bad_rows = true"), "{toml}");
    assert!(has(&harness, "All 4 examples fit in the maximum length of 256 tokens"));
    // Every row has its token count; the detail panel repeats it.
    harness.get_by_label("line 5: Add two numbers").click();
    wait_for(&mut harness, "the row's detail", |h| has(h, "Line 5 · record 4"));
    let page = &harness.state().as_ref().expect("the window").pages.data;
    let tokens = page.view.as_ref().and_then(|v| v.tokens.clone()).expect("lengths were measured");
    assert_eq!(tokens.len(), 4, "one length per example");
    assert!(tokens[3] > 10, "{tokens:?}");
    assert!(has(&harness, &format!("{} tokens", tokens[3])), "the detail panel gives the row's length ({tokens:?})");

    // Another file typed in the file row becomes the project's data file (data.path in dtm.toml).
    let other = tmp.path().join("other.jsonl");
    std::fs::write(&other, "{\"instruction\": \"Count to three\", \"output\": \"1, 2, 3\"}\n").unwrap();
    let field = harness.get_by(|n| n.data().placeholder() == Some("a .jsonl, .json, .csv or .parquet file of instruction data"));
    field.focus();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness
        .get_by(|n| n.data().placeholder() == Some("a .jsonl, .json, .csv or .parquet file of instruction data"))
        .type_text(&other.display().to_string());
    harness.step();
    harness.get_by_label("Check").click();
    wait_for(&mut harness, "the other file", |h| has(h, "line 1: Count to three"));
    let toml = std::fs::read_to_string(dir.join("dtm.toml")).unwrap();
    assert!(toml.contains(&format!("path = \"{}\"", other.display())), "{toml}");
    assert!(has(&harness, "1 of 1 rows"));
}

/// `cargo nextest run -E 'test(app_data_bench)' --run-ignored only --no-capture`: a search over
/// 100,000 rows and frames of the window while the table scrolls.
#[test]
#[ignore = "a measurement; run it on purpose"]
fn app_data_bench_100k_rows() {
    let figure = dtm_studio::app::pages::data::bench::measure(100_000, 60);
    println!("{}", serde_json::to_string(&figure).unwrap());
    assert!(figure.all_rows_listed);
    assert!(figure.top_row_at_end > 0 && figure.rows_drawn < 100, "the table scrolled and drew only the rows in view: {figure:?}");
}
