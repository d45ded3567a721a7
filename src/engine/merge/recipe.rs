//! `merge.yaml`: the merge as a mergekit recipe (merge_method, base_model, models with
//! parameters weight/density, dtype), so mergekit users can read and rerun it. Each adapter is a
//! `BASE+ADAPTER` model reference, mergekit's syntax for a base with a LoRA applied. Methods
//! mergekit lacks (`fisher`, `lora-param-average`) keep their own name with a comment saying
//! mergekit cannot run them.

use super::spec::{MergeMethod, MergeSpec, WeightValue};
use std::fmt::Write as _;
use std::path::PathBuf;

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("'{}'", s.replace('\'', "''")))
}

fn number(v: f64) -> String {
    format!("{v:?}")
}

fn weight_value(w: &WeightValue) -> String {
    match w {
        WeightValue::Constant(v) => number(*v),
        WeightValue::Gradient(vs) => format!("[{}]", vs.iter().map(|v| number(*v)).collect::<Vec<_>>().join(", ")),
    }
}

/// The recipe text for merging `adapters` into `base` with `spec`; `dtype` is HF's name of
/// the output type (`float32`, `bfloat16`).
pub fn mergekit_yaml(spec: &MergeSpec, base: &str, adapters: &[PathBuf], dtype: &str) -> String {
    let k = adapters.len();
    let normalize = spec.normalize();
    // mergekit's linear without normalisation sums whole models; task_arithmetic is the
    // base-relative sum that DTM Studio computes.
    let (name, note) = match (spec.method, spec.method.mergekit_name()) {
        (MergeMethod::Linear, _) if !normalize => ("task_arithmetic".to_string(), None),
        (_, Some(n)) => (n.to_string(), None),
        (m, None) => (
            m.name().replace('-', "_"),
            Some(format!("# '{m}' has no mergekit equivalent: mergekit cannot run this recipe; it records the settings.")),
        ),
    };
    let mut y = String::new();
    let _ = writeln!(y, "# Merge written by DTM Studio ({}), in mergekit's vocabulary.", spec.method);
    if let Some(n) = note {
        let _ = writeln!(y, "{n}");
    }
    match spec.method {
        MergeMethod::Slerp => {
            let _ = writeln!(
                y,
                "# DTM Studio interpolates the two LoRA deltas; mergekit's slerp interpolates the whole weights, so the numbers differ."
            );
        }
        MergeMethod::DareLinear | MergeMethod::DareTies => {
            let _ =
                writeln!(y, "# Drop masks are random (DTM Studio seed {}); mergekit draws its own and rescales by the L1 norm.", spec.seed);
        }
        _ => {}
    }
    let _ = writeln!(y, "merge_method: {name}");
    let uses_base = !matches!(spec.method, MergeMethod::Linear) || !normalize;
    if uses_base {
        let base_ref = if spec.method == MergeMethod::Slerp {
            format!("{base}+{}", adapters.first().map(|a| a.display().to_string()).unwrap_or_default())
        } else {
            base.to_string()
        };
        let _ = writeln!(y, "base_model: {}", quote(&base_ref));
    }
    let _ = writeln!(y, "dtype: {dtype}");
    let mut shared: Vec<String> = Vec::new();
    if spec.method != MergeMethod::Slerp && spec.method != MergeMethod::Fisher {
        shared.push(format!("normalize: {normalize}"));
    }
    if spec.method.uses_lambda() && spec.lambda != 1.0 {
        shared.push(format!("lambda: {}", number(spec.lambda)));
    }
    if spec.method == MergeMethod::Slerp {
        let w = spec.weights_for("", 0.0, k);
        let t = if (w[0] + w[1]).abs() > 1e-12 { w[1] / (w[0] + w[1]) } else { 0.5 };
        shared.push(format!("t: {}", number(t)));
    }
    if !shared.is_empty() {
        let _ = writeln!(y, "parameters:");
        for s in shared {
            let _ = writeln!(y, "  {s}");
        }
    }
    let _ = writeln!(y, "models:");
    for (i, a) in adapters.iter().enumerate() {
        let _ = writeln!(y, "  - model: {}", quote(&format!("{base}+{}", a.display())));
        if spec.method == MergeMethod::Slerp {
            continue;
        }
        let _ = writeln!(y, "    parameters:");
        let global = spec.weights.as_ref().map(|ws| ws[i].clone()).unwrap_or(WeightValue::Constant(1.0 / k as f64));
        if spec.overrides.is_empty() {
            let _ = writeln!(y, "      weight: {}", weight_value(&global));
        } else {
            let _ = writeln!(y, "      weight:");
            for o in &spec.overrides {
                let _ = writeln!(y, "        - filter: {}  # regex in DTM Studio, substring in mergekit", quote(o.pattern.as_str()));
                let _ = writeln!(y, "          value: {}", weight_value(&o.weights[i]));
            }
            let _ = writeln!(y, "        - value: {}", weight_value(&global));
        }
        if spec.method.uses_density() {
            let _ = writeln!(y, "      density: {}", number(spec.density_of(i)));
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::merge::spec::{parse_weights, ModuleOverride};

    #[test]
    fn ties_recipe_has_mergekit_fields() {
        let mut spec = MergeSpec::new(MergeMethod::Ties);
        spec.weights = Some(parse_weights("0.7,0.3").unwrap());
        spec.density = Some(vec![0.5]);
        let y = mergekit_yaml(&spec, "/m/base", &[PathBuf::from("/a/sub-0"), PathBuf::from("/a/sub-1")], "float32");
        for want in [
            "merge_method: ties",
            "base_model: \"/m/base\"",
            "dtype: float32",
            "normalize: true",
            "- model: \"/m/base+/a/sub-1\"",
            "weight: 0.3",
            "density: 0.5",
        ] {
            assert!(y.contains(want), "missing {want:?} in\n{y}");
        }
    }

    #[test]
    fn linear_without_normalize_becomes_task_arithmetic_and_overrides_become_filters() {
        let mut spec = MergeSpec::new(MergeMethod::Linear);
        spec.normalize = Some(false);
        spec.weights = Some(parse_weights("1:0,0:1").unwrap());
        spec.overrides = vec![ModuleOverride::parse("down_proj=0.5,0.5").unwrap()];
        let y = mergekit_yaml(&spec, "b", &[PathBuf::from("x"), PathBuf::from("y")], "bfloat16");
        assert!(y.contains("merge_method: task_arithmetic") && y.contains("base_model:"), "{y}");
        assert!(y.contains("- filter: \"down_proj\"") && y.contains("- value: [1.0, 0.0]"), "{y}");
        let f = mergekit_yaml(&MergeSpec::new(MergeMethod::Fisher), "b", &[PathBuf::from("x")], "float32");
        assert!(f.contains("no mergekit equivalent") && f.contains("merge_method: fisher"), "{f}");
    }
}
