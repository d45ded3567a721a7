//! What to merge and how: the method, per-sub-model weights (constant or a gradient across
//! layers), per-module overrides by regex, `normalize`, density, lambda and seed, in mergekit's
//! vocabulary.

use super::error::{MergeError, Result};
use regex::Regex;
use std::fmt;
use std::str::FromStr;

/// A merging method. All of them combine the LoRA deltas `dW_k = s_k B_k A_k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MergeMethod {
    /// `dW = sum_k w_k dW_k` (divided by `sum_k w_k` when normalising): the paper's average.
    Linear,
    /// `A = sum_k w_k A_k`, `B = sum_k w_k B_k`: what the paper's released code does.
    LoraParamAverage,
    /// `dW = lambda * sum_k w_k dW_k`.
    TaskArithmetic,
    /// TIES: trim each delta to its top `density` entries, elect signs, disjoint weighted mean.
    Ties,
    /// DARE: drop entries with probability `1 - density`, rescale by `1 / density`, then linear.
    DareLinear,
    /// DARE, then TIES' sign election and disjoint mean.
    DareTies,
    /// Per-entry weights from diagonal empirical Fisher information: `sum F_k dW_k / sum F_k`.
    Fisher,
    /// Spherical interpolation between two deltas, `t = w_1 / (w_0 + w_1)`.
    Slerp,
}

impl MergeMethod {
    /// Every method, in the order the CLI and GUI list them.
    pub const ALL: [MergeMethod; 8] = [
        Self::Linear,
        Self::LoraParamAverage,
        Self::TaskArithmetic,
        Self::Ties,
        Self::DareLinear,
        Self::DareTies,
        Self::Fisher,
        Self::Slerp,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::LoraParamAverage => "lora-param-average",
            Self::TaskArithmetic => "task-arithmetic",
            Self::Ties => "ties",
            Self::DareLinear => "dare-linear",
            Self::DareTies => "dare-ties",
            Self::Fisher => "fisher",
            Self::Slerp => "slerp",
        }
    }

    /// mergekit's `merge_method` for the same computation, if mergekit has one.
    pub fn mergekit_name(self) -> Option<&'static str> {
        match self {
            Self::Linear => Some("linear"),
            Self::TaskArithmetic => Some("task_arithmetic"),
            Self::Ties => Some("ties"),
            Self::DareLinear => Some("dare_linear"),
            Self::DareTies => Some("dare_ties"),
            Self::Slerp => Some("slerp"),
            Self::LoraParamAverage | Self::Fisher => None,
        }
    }

    /// Whether weights are divided by their sum unless told otherwise (mergekit's defaults).
    pub fn default_normalize(self) -> bool {
        matches!(self, Self::Linear | Self::LoraParamAverage | Self::Ties)
    }

    /// Whether the method uses `density` (fraction of delta entries kept).
    pub fn uses_density(self) -> bool {
        matches!(self, Self::Ties | Self::DareLinear | Self::DareTies)
    }

    /// Whether the method uses `lambda` (a scale on the merged delta).
    pub fn uses_lambda(self) -> bool {
        matches!(self, Self::TaskArithmetic | Self::Ties | Self::DareLinear | Self::DareTies)
    }

    /// Whether the merged adapter can be written exactly as a LoRA (rank concatenation or
    /// parameter averaging); the others need a truncated SVD.
    pub fn exact_adapter(self) -> bool {
        matches!(self, Self::Linear | Self::TaskArithmetic | Self::LoraParamAverage)
    }
}

impl fmt::Display for MergeMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MergeMethod {
    type Err = MergeError;
    fn from_str(s: &str) -> Result<Self> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL.into_iter().find(|m| m.name() == norm).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|m| m.name()).collect();
            MergeError::Spec(format!("unknown method '{s}'; choose one of {}", names.join(", ")))
        })
    }
}

/// One sub-model's weight: a constant, or a gradient across layers (mergekit's list form: the
/// values are spread evenly from the first layer to the last and interpolated linearly).
#[derive(Debug, Clone, PartialEq)]
pub enum WeightValue {
    /// The same weight everywhere.
    Constant(f64),
    /// Values at evenly spaced layer positions.
    Gradient(Vec<f64>),
}

impl WeightValue {
    /// The weight at layer position `t` in [0, 1] (layer / (layers - 1)), as mergekit computes it.
    pub fn at(&self, t: f64) -> f64 {
        match self {
            Self::Constant(v) => *v,
            Self::Gradient(vs) if vs.is_empty() => 0.0,
            Self::Gradient(vs) if vs.len() == 1 => vs[0],
            Self::Gradient(vs) => {
                let scaled = t.clamp(0.0, 1.0) * (vs.len() - 1) as f64;
                let i0 = scaled.floor() as usize;
                let i1 = (i0 + 1).min(vs.len() - 1);
                let frac = scaled - i0 as f64;
                (1.0 - frac) * vs[i0] + frac * vs[i1]
            }
        }
    }

    fn values(&self) -> Vec<f64> {
        match self {
            Self::Constant(v) => vec![*v],
            Self::Gradient(vs) => vs.clone(),
        }
    }
}

impl fmt::Display for WeightValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Constant(v) => write!(f, "{v}"),
            Self::Gradient(vs) => {
                let parts: Vec<String> = vs.iter().map(|v| v.to_string()).collect();
                write!(f, "{}", parts.join(":"))
            }
        }
    }
}

/// Parses `0.4,0.2,0.2,0.2`; an item `1:0.5:0` is a gradient across layers.
pub fn parse_weights(text: &str) -> Result<Vec<WeightValue>> {
    text.split(',')
        .map(|item| {
            let parts: Vec<&str> = item.split(':').map(str::trim).collect();
            let values = parts
                .iter()
                .map(|p| {
                    let v: f64 = p.parse().map_err(|_| MergeError::Spec(format!("weight '{p}' in '{text}' is not a number")))?;
                    if v.is_finite() {
                        Ok(v)
                    } else {
                        Err(MergeError::Spec(format!("weight '{p}' in '{text}' is not finite")))
                    }
                })
                .collect::<Result<Vec<f64>>>()?;
            Ok(if values.len() == 1 { WeightValue::Constant(values[0]) } else { WeightValue::Gradient(values) })
        })
        .collect()
}

/// Weights for the modules whose name matches a regex (first matching override wins).
#[derive(Debug, Clone)]
pub struct ModuleOverride {
    /// Matched against the module name (`model.layers.3.mlp.gate_proj`) with `is_match`.
    pub pattern: Regex,
    /// One weight per sub-model.
    pub weights: Vec<WeightValue>,
}

impl ModuleOverride {
    /// Parses `REGEX=w1,w2,...` (split at the last `=`).
    pub fn parse(text: &str) -> Result<Self> {
        let (re, weights) =
            text.rsplit_once('=').ok_or_else(|| MergeError::Spec(format!("module override '{text}' must look like REGEX=w1,w2,...")))?;
        let pattern = Regex::new(re).map_err(|e| MergeError::Spec(format!("module override regex '{re}': {e}")))?;
        Ok(Self { pattern, weights: parse_weights(weights)? })
    }
}

/// A complete merge request.
#[derive(Debug, Clone)]
pub struct MergeSpec {
    /// The method.
    pub method: MergeMethod,
    /// One weight per sub-model; `None` means `1/K` each.
    pub weights: Option<Vec<WeightValue>>,
    /// Per-module weights by regex on the module name.
    pub overrides: Vec<ModuleOverride>,
    /// Divide by the sum of weights; `None` takes the method's (mergekit's) default.
    pub normalize: Option<bool>,
    /// Fraction of delta entries kept (TIES, DARE): one value, or one per sub-model. `None`
    /// means 0.5.
    pub density: Option<Vec<f64>>,
    /// Scale on the merged delta (task arithmetic, TIES, DARE).
    pub lambda: f64,
    /// Seed of DARE's drop masks.
    pub seed: u64,
    /// Rank of the SVD-truncated adapter for methods that are not exact as a LoRA (and, when
    /// set, a compression of the exact ones); `None` is the sum of the input ranks.
    pub adapter_rank: Option<usize>,
}

/// Density used by TIES and DARE when none is given.
pub const DEFAULT_DENSITY: f64 = 0.5;

impl MergeSpec {
    /// A spec with the method's defaults: equal weights, density 0.5, lambda 1, seed 0.
    pub fn new(method: MergeMethod) -> Self {
        Self { method, weights: None, overrides: Vec::new(), normalize: None, density: None, lambda: 1.0, seed: 0, adapter_rank: None }
    }

    /// Whether weights are normalised for this spec.
    pub fn normalize(&self) -> bool {
        self.normalize.unwrap_or_else(|| self.method.default_normalize())
    }

    /// Checks the settings against `k` sub-models.
    pub fn validate(&self, k: usize) -> Result<()> {
        let bad = |m: String| Err(MergeError::Spec(m));
        if k == 0 {
            return bad("no adapters given".into());
        }
        if self.method == MergeMethod::Slerp && k != 2 {
            return bad(format!("slerp merges exactly two adapters, {k} given"));
        }
        let check_len = |ws: &[WeightValue], what: &str| -> Result<()> {
            if ws.len() != k {
                return Err(MergeError::Spec(format!(
                    "{what} has {} values but {k} adapters are given: give one weight per adapter",
                    ws.len()
                )));
            }
            if ws.iter().any(|w| matches!(w, WeightValue::Gradient(v) if v.is_empty())) {
                return Err(MergeError::Spec(format!("{what} has an empty gradient")));
            }
            Ok(())
        };
        if let Some(ws) = &self.weights {
            check_len(ws, "`weights`")?;
        }
        for o in &self.overrides {
            check_len(&o.weights, &format!("module override '{}'", o.pattern))?;
        }
        match &self.density {
            Some(_) if !self.method.uses_density() => {
                return bad(format!("`density` applies to ties, dare-linear and dare-ties, not {}", self.method))
            }
            Some(ds) if ds.len() != 1 && ds.len() != k => {
                return bad(format!("`density` has {} values; give one, or one per adapter ({k})", ds.len()))
            }
            Some(ds) => {
                if let Some(d) = ds.iter().find(|d| !(**d > 0.0 && **d <= 1.0)) {
                    return bad(format!("density {d} is outside (0, 1]: it is the fraction of delta entries kept"));
                }
            }
            None => {}
        }
        if !self.lambda.is_finite() {
            return bad(format!("lambda {} is not finite", self.lambda));
        }
        if self.lambda != 1.0 && !self.method.uses_lambda() {
            return bad(format!("`lambda` applies to task-arithmetic, ties, dare-linear and dare-ties, not {}", self.method));
        }
        if self.adapter_rank == Some(0) {
            return bad("`rank` must be at least 1".into());
        }
        Ok(())
    }

    /// Density of sub-model `k`.
    pub fn density_of(&self, k: usize) -> f64 {
        match &self.density {
            None => DEFAULT_DENSITY,
            Some(ds) if ds.len() == 1 => ds[0],
            Some(ds) => ds.get(k).copied().unwrap_or(DEFAULT_DENSITY),
        }
    }

    /// The weights that apply to `module` at layer position `t` (see [`layer_position`]).
    pub fn weights_for(&self, module: &str, t: f64, k: usize) -> Vec<f64> {
        let chosen = self.overrides.iter().find(|o| o.pattern.is_match(module)).map(|o| &o.weights).or(self.weights.as_ref());
        match chosen {
            Some(ws) => ws.iter().map(|w| w.at(t)).collect(),
            None => vec![1.0 / k as f64; k],
        }
    }

    /// The weights as written in reports: each sub-model's value(s).
    pub fn weight_values(&self, k: usize) -> Vec<Vec<f64>> {
        match &self.weights {
            Some(ws) => ws.iter().map(WeightValue::values).collect(),
            None => vec![vec![1.0 / k as f64]; k],
        }
    }
}

/// The layer index in a module name `...layers.{i}...`, if any.
pub fn layer_index(module: &str) -> Option<usize> {
    let mut parts = module.split('.');
    while let Some(p) = parts.next() {
        if p == "layers" || p == "h" || p == "blocks" {
            if let Some(i) = parts.clone().next().and_then(|s| s.parse().ok()) {
                return Some(i);
            }
        }
    }
    None
}

/// mergekit's gradient position of a module: `layer / (layers - 1)`, 0 outside the layers.
pub fn layer_position(module: &str, num_layers: usize) -> f64 {
    match layer_index(module) {
        Some(i) if num_layers > 1 => i as f64 / (num_layers - 1) as f64,
        Some(_) => 1.0,
        None => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_interpolates_like_mergekit() {
        let w = WeightValue::Gradient(vec![0.0, 1.0, 0.0]);
        assert_eq!(w.at(0.0), 0.0);
        assert_eq!(w.at(0.25), 0.5);
        assert_eq!(w.at(0.5), 1.0);
        assert_eq!(w.at(1.0), 0.0);
        assert_eq!(layer_position("model.layers.15.mlp.up_proj", 31), 0.5);
    }

    #[test]
    fn parses_weights_and_overrides() {
        let ws = parse_weights("0.5, 1:0 ,2").unwrap();
        assert_eq!(ws, vec![WeightValue::Constant(0.5), WeightValue::Gradient(vec![1.0, 0.0]), WeightValue::Constant(2.0)]);
        assert!(parse_weights("0.5,x").unwrap_err().to_string().contains("'x'"));
        let o = ModuleOverride::parse(r"layers\.1\..*=0,1").unwrap();
        let spec = MergeSpec { overrides: vec![o], ..MergeSpec::new(MergeMethod::Linear) };
        assert_eq!(spec.weights_for("model.layers.1.mlp.up_proj", 0.0, 2), vec![0.0, 1.0]);
        assert_eq!(spec.weights_for("model.layers.2.mlp.up_proj", 0.0, 2), vec![0.5, 0.5]);
    }

    #[test]
    fn validation_names_the_problem() {
        let mut s = MergeSpec::new(MergeMethod::Ties);
        s.weights = Some(parse_weights("1,2,3").unwrap());
        assert!(s.validate(4).unwrap_err().to_string().contains("3 values but 4 adapters"));
        s.weights = None;
        s.density = Some(vec![-0.5]);
        assert!(s.validate(4).unwrap_err().to_string().contains("density -0.5"));
        let mut l = MergeSpec::new(MergeMethod::Linear);
        l.lambda = 2.0;
        assert!(l.validate(2).is_err());
        assert!(MergeSpec::new(MergeMethod::Slerp).validate(3).is_err());
        assert!("bogus".parse::<MergeMethod>().unwrap_err().to_string().contains("dare-ties"));
        assert_eq!("task_arithmetic".parse::<MergeMethod>().unwrap(), MergeMethod::TaskArithmetic);
    }
}
