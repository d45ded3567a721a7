//! A project: `dtm.toml` read, every setting checked before any work starts, paths resolved
//! against the file's folder (which is also the run directory). A bad value is an error naming
//! the file, the line and the key.

use super::error::PipelineError;
use super::file::ProjectFile;
use crate::engine::cluster::{ClusterMethod, ClusterOptions};
use crate::engine::data::{ColumnMapping, DataError, DataFormat, LoadDataOptions, PromptOptions, PromptTemplate};
use crate::engine::device::{DeviceRequest, WorkDType};
use crate::engine::embed::{EncoderSpec, TextField};
use crate::engine::eval::BenchSpec;
use crate::engine::merge::{MergeMethod, MergeOutput, MergeSpec, WeightValue};
use crate::engine::train::config::TrainOverrides;
use crate::engine::train::memory_fit::Checkpointing;
use crate::engine::train::TrainConfig;
use candle_core::DType;
use std::path::{Path, PathBuf};

/// The project file's name inside a project folder.
pub const PROJECT_FILE: &str = "dtm.toml";

/// One named merge.
#[derive(Debug, Clone)]
pub struct MergePlan {
    /// Its name (`merge/<name>`, the label in tables).
    pub name: String,
    /// Method, weights and the rest.
    pub spec: MergeSpec,
    /// Adapter or full model.
    pub output: MergeOutput,
}

/// One benchmark.
#[derive(Debug, Clone)]
pub struct EvalPlan {
    /// Name and resolved path.
    pub spec: BenchSpec,
    /// Few-shot examples (`None`: the benchmark's default).
    pub fewshot: Option<usize>,
    /// First N items only.
    pub limit: Option<usize>,
    /// Sequences per forward pass.
    pub batch: usize,
    /// Most tokens generated per answer (`None`: the benchmark's default).
    pub max_new_tokens: Option<usize>,
}

/// A checked project.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project folder (the run directory).
    pub dir: PathBuf,
    /// `dir/dtm.toml`.
    pub file: PathBuf,
    /// The file as parsed (for the record and for settings hashes).
    pub raw: ProjectFile,
    /// The data file.
    pub data: PathBuf,
    /// How to read it.
    pub data_options: LoadDataOptions,
    /// Prompt template and turns (the maximum length comes from the training settings).
    pub prompt: PromptOptions,
    /// The base model (a resolved path, or a cached id).
    pub model: String,
    /// Working dtype (`None`: f32 on the CPU, bf16 on GPUs).
    pub dtype: Option<DType>,
    /// The encoder (builtin, minilm or a resolved folder).
    pub encoder: String,
    /// Which text is embedded.
    pub field: TextField,
    /// Method, K, seed.
    pub cluster: ClusterOptions,
    /// Column to split by (method field).
    pub by: Option<String>,
    /// Training settings of every run.
    pub train: TrainConfig,
    /// Whether the vanilla model is trained.
    pub vanilla: bool,
    /// Gradient checkpointing of every run.
    pub checkpointing: Checkpointing,
    /// Named merges.
    pub merges: Vec<MergePlan>,
    /// Benchmarks.
    pub evals: Vec<EvalPlan>,
    /// The devices stages run on, one stage per device at a time (at least one).
    pub devices: Vec<DeviceRequest>,
    /// Whether a training run that does not fit the memory plan is refused (else warned about).
    pub memory_check: bool,
    /// Whether a GGUF base stays in its quantized blocks.
    pub keep_quantized: bool,
}

/// Where a key is in the file, for messages.
struct Locator<'a> {
    file: &'a Path,
    text: &'a str,
    doc: toml_edit::Document<&'a str>,
}

impl Locator<'_> {
    /// The 1-based line of `key` in `section` (the `index`-th of an array of tables), or of the
    /// section header, or 0.
    fn line(&self, section: &str, index: Option<usize>, key: &str) -> usize {
        let table = match (self.doc.get(section), index) {
            (Some(toml_edit::Item::ArrayOfTables(a)), Some(i)) => a.get(i),
            (Some(item), None) => item.as_table(),
            _ => None,
        };
        let span = table.and_then(|t| t.key(key).and_then(|k| k.span()).or_else(|| t.span()));
        span.map(|s| self.text[..s.start.min(self.text.len())].matches('\n').count() + 1).unwrap_or(0)
    }

    fn invalid(&self, section: &str, index: Option<usize>, key: &str, detail: impl Into<String>) -> PipelineError {
        let name = match index {
            Some(i) => format!("{section}[{i}].{key}"),
            None => format!("{section}.{key}"),
        };
        PipelineError::Invalid { file: self.file.to_path_buf(), line: self.line(section, index, key), key: name, detail: detail.into() }
    }
}

/// The 1-based line of `section.key` in the project file `file` (0 when it cannot be found), for
/// checks made after loading.
pub fn key_line(file: &Path, section: &str, key: &str) -> usize {
    let Ok(text) = std::fs::read_to_string(file) else { return 0 };
    let Ok(doc) = toml_edit::Document::parse(text.as_str()) else { return 0 };
    Locator { file, text: &text, doc }.line(section, None, key)
}

/// A path from the file, relative to the project folder unless absolute.
fn resolve(dir: &Path, p: &str) -> PathBuf {
    let path = PathBuf::from(p.trim());
    if path.is_absolute() {
        path
    } else {
        dir.join(path)
    }
}

impl Project {
    /// Reads and checks `path` (a `dtm.toml` or the folder holding one).
    pub fn load(path: &Path) -> Result<Self, PipelineError> {
        let file = if path.is_dir() { path.join(PROJECT_FILE) } else { path.to_path_buf() };
        let text = std::fs::read_to_string(&file).map_err(|source| PipelineError::Io { path: file.clone(), source })?;
        let raw: ProjectFile = toml::from_str(&text).map_err(|e| PipelineError::Toml { file: file.clone(), detail: e.to_string() })?;
        let doc =
            toml_edit::Document::parse(text.as_str()).map_err(|e| PipelineError::Toml { file: file.clone(), detail: e.to_string() })?;
        let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        let at = Locator { file: &file, text: &text, doc };
        Self::check(raw, dir, file.clone(), &at)
    }

    fn check(raw: ProjectFile, dir: PathBuf, file: PathBuf, at: &Locator<'_>) -> Result<Self, PipelineError> {
        // [data]
        let d = &raw.data;
        let data = resolve(&dir, &d.path);
        if !data.is_file() {
            return Err(at.invalid(
                "data",
                None,
                "path",
                format!("{} does not exist; give the instruction data file, relative to {PROJECT_FILE}", data.display()),
            ));
        }
        let format = match d.format.as_str() {
            "auto" => None,
            f => Some(f.parse::<DataFormat>().map_err(|e| at.invalid("data", None, "format", e.to_string()))?),
        };
        let columns = if d.columns.is_empty() {
            None
        } else {
            let spec: Vec<String> = d.columns.iter().map(|(k, v)| format!("{k}={v}")).collect();
            Some(ColumnMapping::parse(&spec.join(",")).map_err(|e| at.invalid("data", None, "columns", e.to_string()))?)
        };
        let template: PromptTemplate = d.template.parse().map_err(|e: DataError| at.invalid("data", None, "template", e.to_string()))?;
        if !(0.0..1.0).contains(&d.val_fraction) {
            return Err(at.invalid(
                "data",
                None,
                "val_fraction",
                format!("{} is outside [0, 1): it is the fraction of rows held out", d.val_fraction),
            ));
        }
        // [model]
        let model_path = resolve(&dir, &raw.model.path);
        let model = if model_path.exists() { model_path.to_string_lossy().into_owned() } else { raw.model.path.clone() };
        crate::engine::model::resolve_model(&model).map_err(|e| at.invalid("model", None, "path", e.to_string()))?;
        let dtype = match raw.model.dtype.as_str() {
            "auto" => None,
            s => Some(s.parse::<WorkDType>().map_err(|e| at.invalid("model", None, "dtype", e))?.0),
        };
        // [disperse]
        let p = &raw.disperse;
        let encoder = match p.encoder.as_str() {
            "builtin" | "minilm" => p.encoder.clone(),
            folder => resolve(&dir, folder).to_string_lossy().into_owned(),
        };
        encoder.parse::<EncoderSpec>().map_err(|e| at.invalid("disperse", None, "encoder", e))?;
        let field: TextField = p.field.parse().map_err(|e: String| at.invalid("disperse", None, "field", e))?;
        let method: ClusterMethod = p.method.parse().map_err(|e: String| at.invalid("disperse", None, "method", e))?;
        if method != ClusterMethod::Field && p.k < 2 {
            return Err(at.invalid(
                "disperse",
                None,
                "k",
                format!("K = {}: Disperse-Then-Merge needs at least 2 portions (the paper's best was K = 4)", p.k),
            ));
        }
        if method == ClusterMethod::Field && p.by.is_none() {
            return Err(at.invalid("disperse", None, "by", "the method `field` needs the column to split by"));
        }
        let cluster = ClusterOptions { method, k: p.k, seed: p.seed, n_init: p.n_init.max(1), elbow: p.elbow, ..Default::default() };
        // [train]
        let train = train_config(&raw, at)?;
        // [[merge]]
        let mut merges = Vec::new();
        for (i, m) in raw.merges.iter().enumerate() {
            merges.push(merge_plan(m, i, p.k, at)?);
            if merges[..i].iter().any(|o: &MergePlan| o.name == m.name) {
                return Err(at.invalid("merge", Some(i), "name", format!("'{}' is used by two merges; each needs its own name", m.name)));
            }
        }
        // [[eval]]
        let mut evals = Vec::new();
        for (i, e) in raw.evals.iter().enumerate() {
            let path = resolve(&dir, &e.path);
            let spec: BenchSpec = format!("{}:{}", e.name, path.display())
                .parse()
                .map_err(|err: crate::engine::eval::EvalError| at.invalid("eval", Some(i), "name", err.to_string()))?;
            if !path.exists() {
                return Err(at.invalid("eval", Some(i), "path", format!("{} does not exist", path.display())));
            }
            if e.batch == 0 {
                return Err(at.invalid("eval", Some(i), "batch", "must be at least 1"));
            }
            if evals.iter().any(|o: &EvalPlan| o.spec.name == spec.name) {
                return Err(at.invalid("eval", Some(i), "name", format!("'{}' is listed twice", spec.name)));
            }
            if e.max_new_tokens == Some(0) {
                return Err(at.invalid("eval", Some(i), "max_new_tokens", "must be at least 1"));
            }
            evals.push(EvalPlan { spec, fewshot: e.fewshot, limit: e.limit, batch: e.batch, max_new_tokens: e.max_new_tokens });
        }
        let devices: Vec<DeviceRequest> = if raw.device.devices.is_empty() {
            vec![raw.device.device.parse().map_err(|e: String| at.invalid("device", None, "device", e))?]
        } else {
            raw.device
                .devices
                .iter()
                .map(|d| d.parse())
                .collect::<Result<_, String>>()
                .map_err(|e| at.invalid("device", None, "devices", e))?
        };
        Ok(Self {
            data_options: LoadDataOptions { format, columns, skip_bad_rows: d.skip_bad_rows, ..Default::default() },
            prompt: PromptOptions { template, max_len: train.max_len, first_turn_only: !d.all_turns },
            vanilla: raw.train.vanilla.unwrap_or(true),
            checkpointing: raw.train.checkpointing.unwrap_or_default(),
            by: p.by.clone(),
            dir,
            file,
            data,
            model,
            dtype,
            encoder,
            field,
            cluster,
            train,
            merges,
            evals,
            devices,
            memory_check: raw.device.memory_check.unwrap_or(true),
            keep_quantized: raw.device.keep_quantized.unwrap_or(true),
            raw,
        })
    }

    /// The number of sub-models (K), or the number of values of the `by` column once split.
    pub fn k(&self) -> usize {
        self.cluster.k
    }
}

/// The preset with the file's overrides, checked.
fn train_config(raw: &ProjectFile, at: &Locator<'_>) -> Result<TrainConfig, PipelineError> {
    let t = &raw.train;
    let overrides = TrainOverrides {
        lora_r: t.lora_r,
        lora_alpha: t.lora_alpha,
        lora_dropout: t.lora_dropout,
        targets: t.targets.clone(),
        rslora: t.rslora,
        lr: t.lr,
        schedule: t.schedule,
        warmup: t.warmup,
        epochs: t.epochs,
        max_steps: t.max_steps,
        batch: t.batch,
        grad_accum: t.grad_accum,
        max_len: t.max_len,
        seed: t.seed,
        eval_every: t.eval_every,
        save_every: t.save_every,
    };
    let preset = t.preset.as_deref().unwrap_or("paper");
    TrainConfig::from_preset(preset, &overrides).map_err(|detail| at.invalid("train", None, "preset", detail))
}

/// One `[[merge]]`, checked against K sub-models.
fn merge_plan(m: &super::file::MergeSection, i: usize, k: usize, at: &Locator<'_>) -> Result<MergePlan, PipelineError> {
    let bad_name = m.name.is_empty() || !m.name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if bad_name || m.name == "base" || m.name == "vanilla" || m.name.starts_with("sub-") {
        return Err(at.invalid(
            "merge",
            Some(i),
            "name",
            format!("'{}': use letters, digits, '_', '-' and '.', and not base, vanilla or sub-N", m.name),
        ));
    }
    let method: MergeMethod =
        m.method.parse().map_err(|e: crate::engine::merge::MergeError| at.invalid("merge", Some(i), "method", e.to_string()))?;
    let mut spec = MergeSpec::new(method);
    spec.weights = m.weights.as_ref().map(|w| w.iter().map(|&x| WeightValue::Constant(x)).collect());
    spec.density = m.density.map(|d| vec![d]);
    spec.normalize = m.normalize;
    spec.adapter_rank = m.rank;
    if let Some(l) = m.lambda {
        spec.lambda = l;
    }
    if let Some(s) = m.seed {
        spec.seed = s;
    }
    let output = match m.output.as_str() {
        "adapter" => MergeOutput::Adapter,
        "full" => MergeOutput::Full,
        other => return Err(at.invalid("merge", Some(i), "output", format!("unknown output '{other}': use adapter or full"))),
    };
    if let Err(e) = spec.validate(k) {
        let key = if e.to_string().contains("weights") {
            "weights"
        } else if e.to_string().contains("density") {
            "density"
        } else if e.to_string().contains("lambda") {
            "lambda"
        } else {
            "method"
        };
        return Err(at.invalid("merge", Some(i), key, e.to_string()));
    }
    Ok(MergePlan { name: m.name.clone(), spec, output })
}
