//! The merge settings as the page shows them: the method, one weight per sub-model, normalise,
//! and density, lambda and seed for the methods that use them; per-module weight overrides in a
//! collapsed section. The form turns into the engine's [`MergeSpec`].

use crate::engine::merge::spec::ModuleOverride;
use crate::engine::merge::{MergeMethod, MergeSpec, WeightValue};
use crate::engine::pipeline::file::MergeSection;
use eframe::egui;

/// The settings on show.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeForm {
    /// The method.
    pub method: MergeMethod,
    /// One weight per sub-model.
    pub weights: Vec<f64>,
    /// Divide the weights by their sum.
    pub normalize: bool,
    /// Fraction of delta entries kept (TIES, DARE).
    pub density: f64,
    /// Scale of the merged delta (task arithmetic, TIES, DARE).
    pub lambda: f64,
    /// Seed of DARE's drop masks.
    pub seed: u64,
    /// Per-module overrides, one `REGEX=w1,w2,...` per line.
    pub overrides: String,
}

impl MergeForm {
    /// Equal weights over `k` sub-models, the paper's plain average.
    pub fn new(k: usize) -> Self {
        Self {
            method: MergeMethod::Linear,
            weights: vec![1.0; k],
            normalize: true,
            density: 0.5,
            lambda: 1.0,
            seed: 0,
            overrides: String::new(),
        }
    }

    /// The engine's spec for these settings, or what is wrong with them.
    pub fn spec(&self) -> Result<MergeSpec, String> {
        let mut spec = MergeSpec::new(self.method);
        spec.weights = Some(self.weights.iter().map(|&w| WeightValue::Constant(w)).collect());
        spec.normalize = Some(self.normalize);
        if self.method.uses_density() {
            spec.density = Some(vec![self.density]);
        }
        if self.method.uses_lambda() {
            spec.lambda = self.lambda;
        }
        spec.seed = self.seed;
        for line in self.overrides.lines().map(str::trim).filter(|l| !l.is_empty()) {
            spec.overrides.push(ModuleOverride::parse(line).map_err(|e| e.to_string())?);
        }
        spec.validate(self.weights.len()).map_err(|e| e.to_string())?;
        Ok(spec)
    }

    /// These settings as a `[[merge]]` entry named `name`, written as `output`.
    pub fn section(&self, name: &str, output: &str) -> MergeSection {
        MergeSection {
            name: name.to_string(),
            method: self.method.name().to_string(),
            weights: Some(self.weights.clone()),
            density: self.method.uses_density().then_some(self.density),
            lambda: self.method.uses_lambda().then_some(self.lambda),
            seed: matches!(self.method, MergeMethod::DareLinear | MergeMethod::DareTies).then_some(self.seed),
            normalize: Some(self.normalize),
            output: output.to_string(),
            rank: None,
        }
    }

    /// Each weight's share of their sum (what normalising makes of them).
    pub fn shares(&self) -> Vec<f64> {
        let sum: f64 = self.weights.iter().sum();
        self.weights.iter().map(|w| if sum.abs() > 1e-12 { w / sum } else { 0.0 }).collect()
    }
}

impl Default for MergeForm {
    fn default() -> Self {
        Self::new(0)
    }
}

/// Draws the form; returns whether a setting changed.
pub fn form_ui(ui: &mut egui::Ui, form: &mut MergeForm) -> bool {
    let before = form.clone();
    egui::Grid::new("merge-form").num_columns(2).spacing([12.0, 6.0]).show(ui, |ui| {
        ui.label("Method");
        egui::ComboBox::from_id_salt("merge-method")
            .selected_text(form.method.name())
            .show_ui(ui, |ui| {
                for m in MergeMethod::ALL {
                    if m == MergeMethod::Slerp && form.weights.len() != 2 {
                        continue;
                    }
                    ui.selectable_value(&mut form.method, m, m.name());
                }
            })
            .response
            .accessible_name("Merge method");
        ui.end_row();
        for (i, w) in form.weights.iter_mut().enumerate() {
            let name = format!("Weight of sub-{i}");
            ui.label(format!("sub-{i}"));
            ui.add(egui::Slider::new(w, 0.0..=2.0).step_by(0.05)).accessible_name(&name);
            ui.end_row();
        }
        ui.label("");
        ui.horizontal(|ui| {
            ui.checkbox(&mut form.normalize, "Normalise (divide by the sum)");
            if ui.button("Equal weights").clicked() {
                form.weights.iter_mut().for_each(|w| *w = 1.0);
            }
        });
        ui.end_row();
        if form.method.uses_density() {
            ui.label("Density");
            ui.add(egui::Slider::new(&mut form.density, 0.05..=1.0).step_by(0.05)).accessible_name("Density");
            ui.end_row();
        }
        if form.method.uses_lambda() {
            ui.label("Lambda");
            ui.add(egui::Slider::new(&mut form.lambda, 0.0..=3.0).step_by(0.05)).accessible_name("Lambda");
            ui.end_row();
        }
        if matches!(form.method, MergeMethod::DareLinear | MergeMethod::DareTies) {
            ui.label("Seed");
            ui.add(egui::DragValue::new(&mut form.seed)).accessible_name("Seed");
            ui.end_row();
        }
    });
    egui::CollapsingHeader::new("Advanced: per-module weights").id_salt("merge-overrides").show(ui, |ui| {
        ui.label(
            egui::RichText::new(
                "One override per line, REGEX=w1,w2,... on the module name (e.g. layers\\.(0|1)\\..*=1,0,0,0); the first match wins.",
            )
            .weak(),
        );
        ui.add(egui::TextEdit::multiline(&mut form.overrides).desired_rows(2).desired_width(f32::INFINITY))
            .accessible_name("Module overrides");
    });
    *form != before
}
