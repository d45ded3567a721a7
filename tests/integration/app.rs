//! The window driven through AccessKit (egui_kittest): a project made here with the SmolLM2
//! tokenizer-bearing GGUF and a small data file; every page visited; K moved with the keyboard
//! and written to dtm.toml; Disperse run on its worker until the legend lists K portions; a point
//! hovered and its instruction read; a broken dtm.toml and a broken data file each shown in
//! their page while the window stays usable.

use crate::common::smollm2_or_skip;
use dtm_studio::app::pages::Page;
use dtm_studio::app::settings::Settings;
use dtm_studio::app::{OpenTarget, StartRequest, StudioApp};
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use std::path::Path;
use std::time::{Duration, Instant};

/// A window opened on `target`, the log closed, nothing remembered.
pub fn window(target: Option<OpenTarget>, page: Option<Page>) -> Harness<'static, StudioApp> {
    let ctx = eframe::egui::Context::default();
    let settings = Settings { log_open: false, ..Settings::default() };
    let app = StudioApp::new(&ctx, settings, StartRequest { target, page });
    Harness::builder().with_size([1280.0, 900.0]).build_ui_state(|ui, app: &mut StudioApp| app.frame_ui(ui), app)
}

/// Steps the window until `done` holds (workers finish between steps), at most `secs` seconds.
pub fn wait_until(h: &mut Harness<'static, StudioApp>, what: &str, secs: u64, done: impl Fn(&Harness<'static, StudioApp>) -> bool) {
    let start = Instant::now();
    while !done(h) {
        if start.elapsed() > Duration::from_secs(secs) {
            let log: Vec<String> = h.state().activity.log.iter().map(|l| format!("{}: {}", l.source, l.text)).collect();
            panic!("timed out after {secs} s waiting for {what}; the log:\n{}", log.join("\n"));
        }
        h.step();
        std::thread::sleep(Duration::from_millis(15));
    }
    h.step();
}

/// Whether any node's label contains `text`.
pub fn shows(h: &Harness<'static, StudioApp>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

/// A project of 40 short instructions in two topics, K = 3, SmolLM2 as the model.
pub fn small_project(dir: &Path, model: &Path) {
    const ANIMALS: [&str; 7] = ["apples", "geese", "horses", "lizards", "bees", "otters", "pigeons"];
    const PLACES: [&str; 5] = ["basket", "meadow", "harbour", "kitchen", "forest"];
    const WORDS: [&str; 7] = ["window", "tomorrow", "bicycle", "friendship", "thunder", "library", "garden"];
    const LANGUAGES: [&str; 5] = ["French", "German", "Spanish", "Italian", "Dutch"];
    let rows: Vec<serde_json::Value> = (0..40)
        .map(|i| {
            let instruction = if i % 2 == 0 {
                format!("Count the {} in the {} and explain how.", ANIMALS[i % 7], PLACES[(i / 2) % 5])
            } else {
                format!("Translate the word {} into {}.", WORDS[i % 7], LANGUAGES[(i / 3) % 5])
            };
            serde_json::json!({"instruction": instruction, "input": "", "output": format!("Answer {i}.")})
        })
        .collect();
    std::fs::write(dir.join("data.json"), serde_json::to_string_pretty(&rows).unwrap()).unwrap();
    let toml = format!(
        "# a small project\n[data]\npath = \"data.json\"   # the rows\n\n[model]\npath = \"{}\"\n\n[disperse]\nmethod = \"kmeans\"\nk = 3   # portions\nseed = 1\n\n[train]\npreset = \"quick\"\n\n[[merge]]\nname = \"average\"\nmethod = \"linear\"\n",
        model.display()
    );
    std::fs::write(dir.join("dtm.toml"), toml).unwrap();
}

/// Clicks a step in the sidebar (the page's heading has the same text but is no button).
pub fn click_step(h: &mut Harness<'static, StudioApp>, page: Page) {
    use eframe::egui::accesskit::Role;
    let step = h.query_all_by_label(page.title()).find(|n| !matches!(n.accesskit_node().role(), Role::Label | Role::Heading));
    step.unwrap_or_else(|| panic!("no step named {}", page.title())).click();
    h.run_ok();
    assert_eq!(h.state().page, page);
}

#[test]
fn walk_through_a_project_and_disperse_it() {
    let Some(model) = smollm2_or_skip("walk_through_a_project_and_disperse_it") else { return };
    let dir = tempfile::tempdir().unwrap();
    small_project(dir.path(), &model);
    let mut h = window(Some(OpenTarget::Project(dir.path().to_path_buf())), None);
    wait_until(&mut h, "the project to be read", 30, |h| h.state().workspace.project().is_some());
    assert!(shows(&h, "kmeans on instruction"), "the project page lists the settings");

    for page in Page::ALL {
        click_step(&mut h, page);
    }

    click_step(&mut h, Page::Disperse);
    assert_eq!(h.state().pages.disperse.form.k, 3);
    h.get_by_role(eframe::egui::accesskit::Role::Slider).focus();
    h.run_ok();
    h.key_press(eframe::egui::Key::ArrowRight);
    wait_until(&mut h, "K = 4 in dtm.toml", 20, |h| h.state().workspace.project().is_some_and(|p| p.k() == 4));
    let text = std::fs::read_to_string(dir.path().join("dtm.toml")).unwrap();
    assert!(text.contains("k = 4   # portions") && text.starts_with("# a small project"), "comments kept:\n{text}");

    h.get_by_label("Run disperse").click();
    wait_until(&mut h, "the split", 120, |h| h.state().pages.disperse.map.as_ref().is_some_and(|m| m.clusters.k == 4));
    let legend = h
        .query_all_by_label_contains("Portion ")
        .filter(|n| n.accesskit_node().label().is_some_and(|l| l.contains(" · ") && l.contains(" rows")))
        .count();
    assert_eq!(legend, 4, "the legend lists K portions");
    assert!(h.state().workspace.state_of(&["cluster"]) == Some(dtm_studio::engine::pipeline::StageState::Done));

    let target = 7;
    let pos = h.state().pages.disperse.map.as_ref().unwrap().scatter.screen_pos(target).expect("row 7 is on the map");
    h.hover_at(pos);
    h.run_ok();
    let hovered = h.state().pages.disperse.hovered.expect("a point under the pointer");
    let instruction = h.state().pages.disperse.map.as_ref().unwrap().rows[hovered].instruction.clone();
    assert!(instruction.starts_with("Count") || instruction.starts_with("Translate"), "{instruction}");
    assert!(shows(&h, &instruction[..20]), "the hovered row's instruction is shown");

    let portion = h.state().pages.disperse.map.as_ref().unwrap().clusters.assignment[hovered];
    h.query_all_by_label_contains(&format!("Portion {portion} ·")).next().expect("legend entry").click();
    h.run_ok();
    assert_eq!(h.state().pages.disperse.highlight, Some(portion), "clicking a portion highlights it");
}

#[test]
fn a_broken_project_file_is_shown_and_the_window_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.jsonl"), "{\"instruction\": \"a\", \"output\": \"b\"}\n").unwrap();
    std::fs::write(dir.path().join("dtm.toml"), "[data]\npath = \"data.jsonl\"\n\n[disperse]\nk = 3\ncolour = \"blue\"\n").unwrap();
    let mut h = window(Some(OpenTarget::Project(dir.path().to_path_buf())), None);
    wait_until(&mut h, "the project error", 20, |h| h.state().workspace.load_error().is_some());
    let error = h.state().workspace.load_error().unwrap().to_string();
    assert!(error.contains("dtm.toml") && error.contains("colour"), "{error}");
    assert!(shows(&h, "The project file cannot be used"), "the error is on the Project page");
    click_step(&mut h, Page::Disperse);
    assert!(shows(&h, "This step needs"), "later pages say what they need");
    h.get_by_label("go to Project").click();
    h.run_ok();
    assert_eq!(h.state().page, Page::Project);

    std::fs::write(dir.path().join("dtm.toml"), "[data]\npath = \"data.jsonl\"\n\n[disperse]\nk = 3\n").unwrap();
    h.get_by_label("Reload").click();
    wait_until(&mut h, "the fixed file to be read", 20, |h| h.state().workspace.load_error().is_none_or(|e| !e.contains("colour")));
}

#[test]
fn a_data_file_with_errors_is_shown_in_the_data_page() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.jsonl");
    std::fs::write(
        &file,
        "{\"instruction\": \"a\", \"output\": \"b\"}\n{\"instruction\": \"c\", \"output\": \"d\"}\n{\"instruction\": \"e\", \"output\n",
    )
    .unwrap();
    let mut h = window(Some(OpenTarget::Data(file)), None);
    assert_eq!(h.state().page, Page::Data);
    wait_until(&mut h, "the malformed record's line", 20, |h| shows(h, "(line 3)"));
    click_step(&mut h, Page::Project);
    click_step(&mut h, Page::Data);
    assert!(shows(&h, "(line 3)"), "the problem stays on its page");
}
