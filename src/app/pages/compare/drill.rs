//! The drill-down: two models and a benchmark chosen, the items whose answer changed between
//! them, each with its question, both answers and which is right. The questions come from the
//! benchmark file, read with the comparison on a worker.

use super::data::CompareData;
use crate::app::task::Task;
use crate::engine::eval::changed::{changed_items, questions, Answer, ChangedItem};
use crate::engine::eval::{load_benchmark, BenchSpec};
use eframe::egui::{self, Color32, RichText};
use std::collections::HashMap;
use std::sync::Arc;

/// Items listed at most; the count says how many more there are.
const MAX_LISTED: usize = 200;
/// Characters of a question shown in the list (the whole question on hover).
const QUESTION_CHARS: usize = 140;

/// Which comparison: first model, second model, benchmark.
pub type Choice = (String, String, String);

/// The changed items of one comparison.
#[derive(Debug, Clone)]
pub struct Changes {
    /// What was compared.
    pub choice: Choice,
    /// The items answered differently, in the benchmark's order.
    pub items: Vec<ChangedItem>,
    /// Items both models answered.
    pub total: usize,
    /// Questions by item id (empty when the benchmark file could not be read).
    pub questions: HashMap<String, String>,
    /// Why the questions are missing, if they are.
    pub question_error: Option<String>,
}

/// State of the drill-down.
#[derive(Default)]
pub struct Drill {
    /// The models and benchmark chosen.
    pub choice: Choice,
    /// The comparison on show.
    pub shown: Option<Changes>,
    asked: Option<(Choice, u64)>,
    task: Option<Task<Changes>>,
}

fn compute(data: &CompareData, choice: Choice, spec: Option<BenchSpec>) -> Changes {
    let (a, b) = (data.result(&choice.0, &choice.2), data.result(&choice.1, &choice.2));
    let (items, total) = match (a, b) {
        (Some(a), Some(b)) => (changed_items(a, b), a.items.len().min(b.items.len())),
        _ => (Vec::new(), 0),
    };
    let (questions, question_error) = match spec.map(|s| load_benchmark(&s)) {
        Some(Ok(bench)) => (questions(&bench), None),
        Some(Err(e)) => (HashMap::new(), Some(format!("The questions could not be read: {e}"))),
        None => (HashMap::new(), Some("The benchmark is no longer in dtm.toml, so its questions are not shown.".into())),
    };
    Changes { choice, items, total, questions, question_error }
}

fn pick(current: &mut String, options: &[String], preferred: &[&str]) {
    if options.contains(current) {
        return;
    }
    *current = preferred.iter().find(|p| options.iter().any(|o| o == *p)).map(|p| p.to_string()).unwrap_or_else(|| options[0].clone());
}

fn combo_ui(ui: &mut egui::Ui, name: &str, value: &mut String, options: &[String]) {
    let label = ui.label(name);
    egui::ComboBox::from_id_salt(("drill", name))
        .selected_text(value.as_str())
        .show_ui(ui, |ui| {
            for o in options {
                ui.selectable_value(value, o.clone(), o);
            }
        })
        .response
        .labelled_by(label.id);
}

fn answer_ui(ui: &mut egui::Ui, a: &Answer) {
    let (verdict, colour) = if a.correct { ("right", Color32::from_rgb(40, 150, 70)) } else { ("wrong", ui.visuals().error_fg_color) };
    ui.horizontal(|ui| {
        ui.label(RichText::new(verdict).color(colour).strong());
        ui.label(cut(&a.text, 60));
    });
}

fn cut(text: &str, chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(chars) {
        Some((at, _)) => format!("{}...", &flat[..at]),
        None => flat,
    }
}

impl Drill {
    /// Whether the changed items are being worked out.
    pub fn is_busy(&self) -> bool {
        self.task.is_some()
    }

    fn poll(&mut self) {
        if let Some(result) = self.task.as_mut().and_then(Task::poll) {
            self.task = None;
            if let Ok(changes) = result {
                self.shown = Some(changes);
            }
        }
    }

    /// Draws the choices and the changed items of `models` (those with results) on `benches`.
    /// `revision` changes when the results are read again; `specs` finds a benchmark's file.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        data: &Arc<CompareData>,
        revision: u64,
        models: &[String],
        benches: &[String],
        spec_of: impl Fn(&str) -> Option<BenchSpec>,
    ) {
        self.poll();
        if models.len() < 2 || benches.is_empty() {
            ui.label(RichText::new("Two models with results are needed to compare answers.").weak());
            return;
        }
        pick(&mut self.choice.0, models, &["base"]);
        let others: Vec<String> = models.iter().filter(|m| **m != self.choice.0).cloned().collect();
        pick(&mut self.choice.1, &others, &["vanilla"]);
        pick(&mut self.choice.2, benches, &[]);
        ui.horizontal(|ui| {
            combo_ui(ui, "From", &mut self.choice.0, models);
            combo_ui(ui, "to", &mut self.choice.1, &others);
            combo_ui(ui, "on", &mut self.choice.2, benches);
        });
        let wanted = (self.choice.clone(), revision);
        if self.asked.as_ref() != Some(&wanted) && self.task.is_none() {
            self.asked = Some(wanted);
            let (data, choice, spec) = (Arc::clone(data), self.choice.clone(), spec_of(&self.choice.2));
            self.task = Some(Task::spawn("changed items", ui.ctx(), move || compute(&data, choice, spec)));
        }
        if self.task.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("comparing the answers...");
            });
        }
        let Some(shown) = &self.shown else { return };
        let (first, second, bench) = &shown.choice;
        let fixed = shown.items.iter().filter(|c| c.fixed()).count();
        let broke = shown.items.iter().filter(|c| c.broke()).count();
        ui.label(format!(
            "{} of {} items of {bench} answered differently: {second} got {fixed} right that {first} got wrong, and {broke} wrong that {first} got right.",
            shown.items.len(),
            shown.total
        ));
        if let Some(e) = &shown.question_error {
            ui.label(RichText::new(e).weak());
        }
        if shown.items.is_empty() {
            return;
        }
        egui::Grid::new("changed-items").striped(true).num_columns(4).spacing([16.0, 4.0]).show(ui, |ui| {
            for title in ["question", first.as_str(), second.as_str(), "right answer"] {
                ui.label(RichText::new(title).strong());
            }
            ui.end_row();
            for item in shown.items.iter().take(MAX_LISTED) {
                let question = shown.questions.get(&item.id).cloned().unwrap_or_else(|| format!("item {}", item.id));
                ui.label(cut(&question, QUESTION_CHARS)).on_hover_text(&question);
                answer_ui(ui, &item.first);
                answer_ui(ui, &item.second);
                ui.label(item.gold.as_deref().map(|g| cut(g, 60)).unwrap_or_else(|| "-".into()));
                ui.end_row();
            }
        });
        if shown.items.len() > MAX_LISTED {
            ui.label(
                RichText::new(format!("and {} more (copy the table or read eval/*/{bench}.json for all)", shown.items.len() - MAX_LISTED))
                    .weak(),
            );
        }
    }
}
