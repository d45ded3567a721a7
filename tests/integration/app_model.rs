//! The Base model page in the whole window (egui_kittest, no GPU, no display): SmolLM2 opened on
//! the page shows its architecture, chat template and memory estimate, answers a prompt with the
//! text streamed in and stops when asked; bad paths show their error in the page and the window
//! stays usable. Workers run for real: the tests step frames until a label appears (bounded).

use dtm_studio::app::open::{OpenTarget, StartRequest};
use dtm_studio::app::pages::Page;
use dtm_studio::app::settings::Settings;
use dtm_studio::app::StudioApp;
use dtm_studio::engine::pipeline::{init_project, InitRequest};
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use std::time::{Duration, Instant};

/// How long a worker may take before the test gives up (each test stays well under 30 s).
const WAIT: Duration = Duration::from_secs(20);

type Window = Harness<'static, Option<StudioApp>>;

/// The window opened on `start`, created on the first frame (it needs the context). The log
/// panel is closed, so that only the page's own texts match. The harness's checks stay on: every
/// glyph drawn must exist and every widget must have an accessible name.
fn window(start: StartRequest) -> Window {
    Harness::builder().with_size(egui::vec2(1280.0, 1000.0)).build_ui_state(
        move |ui, app: &mut Option<StudioApp>| {
            let settings = Settings { log_open: false, ..Settings::default() };
            app.get_or_insert_with(|| StudioApp::new(ui.ctx(), settings, start.clone())).frame_ui(ui);
        },
        None,
    )
}

fn app(w: &mut Window) -> &mut StudioApp {
    w.state_mut().as_mut().expect("the first frame made the app")
}

/// Steps frames until `done` holds, sleeping between them; panics after [`WAIT`] with `what`
/// and the page's error, if any.
fn wait_until(w: &mut Window, what: &str, mut done: impl FnMut(&mut Window) -> bool) {
    let start = Instant::now();
    loop {
        w.step();
        if done(w) {
            return;
        }
        if start.elapsed() > WAIT {
            let error = app(w).pages.model.error().map(str::to_string);
            panic!("waited {WAIT:?} for {what}; the page's error: {error:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The window goes idle (no repaint loop: `try_run` fails while repaints keep coming), and the
/// harness's checks (accessible names) pass on what it shows.
fn settles(w: &mut Window) {
    let start = Instant::now();
    while w.try_run().is_err() {
        assert!(start.elapsed() < WAIT, "the page keeps asking for repaints");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn shows(w: &Window, text: &str) -> bool {
    w.query_all_by_label_contains(text).next().is_some()
}

/// Clicks the button labelled `label`.
fn click(w: &mut Window, label: &str) {
    w.get_by_role_and_label(egui::accesskit::Role::Button, label).click();
    w.step();
}

/// The whole text of the one label (or the label of the one widget) containing `text`.
fn label_with(w: &Window, text: &str) -> String {
    let node = w.get_by_label_contains(text);
    node.value().or_else(|| node.accesskit_node().label()).unwrap_or_default()
}

/// Types `text` into the field labelled `label`.
fn type_into(w: &mut Window, label: &str, text: &str) {
    w.get_by_label(label).focus();
    w.step();
    w.get_by_label(label).type_text(text);
    w.step();
}

fn model_window(path: &str) -> Window {
    window(StartRequest { target: Some(OpenTarget::Model(path.to_string())), page: Some(Page::BaseModel) })
}

#[test]
fn app_model_smollm2_describes_the_model_and_streams_an_answer() {
    let Some(gguf) = crate::common::smollm2_or_skip("app_model_smollm2_describes_the_model_and_streams_an_answer") else { return };
    let mut w = model_window(gguf.to_str().unwrap());
    wait_until(&mut w, "the architecture line", |w| shows(w, "LlamaForCausalLM ("));
    assert_eq!(label_with(&w, "LlamaForCausalLM ("), "LlamaForCausalLM (30 layers, hidden 576, MLP 1536)");
    assert!(label_with(&w, "(134.5M)").starts_with("134"), "parameters: {}", label_with(&w, "(134.5M)"));
    assert!(w.query_by_label("8192 tokens").is_some(), "the context length");
    // The chat template on the example conversation, as SmolLM2's template lays it out.
    let rendered = label_with(&w, "<|im_start|>user\nWhat is the capital of France?<|im_end|>");
    assert!(rendered.starts_with("<|im_start|>system\n") && rendered.ends_with("<|im_start|>assistant\n"), "{rendered}");
    // The memory estimate against the CPU's free memory (no project: the paper preset).
    assert!(shows(&w, "With the paper preset (no project open): micro-batch 4 × max_len 1024"));
    assert!(shows(&w, "needs ") && shows(&w, " free"), "the estimate is compared with the device's free memory");

    // Try it: 8 tokens, the answer growing while the job runs.
    app(&mut w).pages.model.try_it.max_tokens = 8;
    type_into(&mut w, "Prompt:", "What is the capital of France?");
    assert_eq!(app(&mut w).pages.model.try_it.prompt, "What is the capital of France?");
    click(&mut w, "Try it");
    let mut partial = None;
    wait_until(&mut w, "the answer to end", |w| {
        let page = &app(w).pages.model;
        let answer = page.try_it.answer();
        if page.try_it.is_running() && !answer.is_empty() && partial.is_none() {
            partial = Some(answer);
        }
        !app(w).pages.model.try_it.is_running() && shows(w, "tokens in")
    });
    let answer = app(&mut w).pages.model.try_it.answer();
    let partial = partial.expect("text arrived while the answer was still being generated");
    assert!(answer.starts_with(&partial) && answer.len() >= partial.len(), "{partial:?} then {answer:?}");
    assert!(shows(&w, answer.trim()), "the answer {answer:?} is on the page");
    assert!(label_with(&w, "tokens in").starts_with("8 tokens in"), "{}", label_with(&w, "tokens in"));
    settles(&mut w);

    // Stop: a long answer stopped once text arrives ends as "stopped", and the model stays loaded.
    app(&mut w).pages.model.try_it.max_tokens = 2000;
    click(&mut w, "Try it");
    wait_until(&mut w, "the second answer to start", |w| !app(w).pages.model.try_it.answer().is_empty());
    click(&mut w, "Stop");
    wait_until(&mut w, "the answer to stop", |w| !app(w).pages.model.try_it.is_running());
    assert!(shows(&w, "stopped"));
    assert!(shows(&w, "LlamaForCausalLM (30 layers"));
}

#[test]
fn app_model_bad_paths_show_their_error_and_the_window_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing/model.gguf").display().to_string();
    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, b"this is not a GGUF file, only some text with a .gguf name").unwrap();
    let junk = junk.display().to_string();

    let mut w = model_window(&missing);
    wait_until(&mut w, "the missing file's error", |w| shows(w, "Could not load"));
    let error = label_with(&w, "Could not load");
    assert!(error.contains(&missing) && error.contains("no such file or folder"), "{error}");

    // The field and its Load button still work: a junk .gguf fails with its own message.
    app(&mut w).pages.model.picker.path = junk.clone();
    w.step();
    click(&mut w, "Load");
    wait_until(&mut w, "the junk file's error", |w| shows(w, "Could not load") && label_with(w, "Could not load").contains(&junk));
    let error = label_with(&w, "Could not load");
    assert!(error.contains("not a readable GGUF file") && !error.contains(" 0: "), "says what is wrong, without a backtrace: {error}");
    assert!(!shows(&w, "no such file or folder"), "the first error was replaced: {error}");

    // The window stays usable: another page opens and the model page comes back.
    click(&mut w, "Project");
    assert_eq!(app(&mut w).page, Page::Project);
    click(&mut w, "Base model");
    assert_eq!(app(&mut w).page, Page::BaseModel);
    assert!(shows(&w, "Could not load"));
    // And a good model loads after the failures, when there is one on this machine.
    if let Some(gguf) = dtm_studio::engine::known_models::smollm2_gguf() {
        app(&mut w).pages.model.picker.path = gguf.display().to_string();
        w.step();
        click(&mut w, "Load");
        wait_until(&mut w, "SmolLM2 after the failures", |w| shows(w, "LlamaForCausalLM ("));
        assert!(!shows(&w, "Could not load"));
    }
    settles(&mut w);
}

#[test]
fn app_model_in_a_project_follows_its_model_and_a_pick_writes_model_path() {
    let Some(gguf) = crate::common::smollm2_or_skip("app_model_in_a_project_follows_its_model_and_a_pick_writes_model_path") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (dir, data) = (tmp.path().join("project"), tmp.path().join("data.jsonl"));
    let rows: Vec<String> = (0..8).map(|i| format!(r#"{{"instruction": "Say {i}.", "output": "{i}"}}"#)).collect();
    std::fs::write(&data, rows.join("\n")).unwrap();
    let model = gguf.display().to_string();
    let req = InitRequest { dir: dir.clone(), model: model.clone(), data, benchmarks: Vec::new(), k: 2, preset: "quick".into() };
    init_project(&req).unwrap();

    // The project's model is shown, and the estimate uses the project's (quick) settings.
    let mut w = window(StartRequest { target: Some(OpenTarget::Project(dir.clone())), page: Some(Page::BaseModel) });
    wait_until(&mut w, "the project's model", |w| shows(w, "LlamaForCausalLM (") && shows(w, "Project model:"));
    assert!(shows(&w, "With the project's [train] settings: micro-batch 4 × max_len 256, LoRA r8"));
    assert!(!shows(&w, "another model is shown"));

    // Picking another model on the page makes it the project's model once it loads.
    let other = tmp.path().join("other.gguf");
    std::fs::hard_link(&gguf, &other).or_else(|_| std::fs::copy(&gguf, &other).map(|_| ())).unwrap();
    let other = other.display().to_string();
    app(&mut w).pages.model.picker.path = other.clone();
    w.step();
    click(&mut w, "Load");
    wait_until(&mut w, "dtm.toml to name the picked model", |w| {
        let project_model = app(w).workspace.project().map(|p| p.model.clone());
        project_model.as_deref() == Some(other.as_str()) && !app(w).workspace.is_saving()
    });
    let text = std::fs::read_to_string(dir.join("dtm.toml")).unwrap();
    assert!(text.contains(&other), "model.path written: {text}");
    // The page does not load the model again for the re-read project.
    for _ in 0..5 {
        w.step();
    }
    assert!(!app(&mut w).pages.model.is_loading() && shows(&w, &format!("Project model: {other}")));
    assert!(!shows(&w, "another model is shown"));
    settles(&mut w);
}
