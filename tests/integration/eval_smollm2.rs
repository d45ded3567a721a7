//! Benchmark scoring on SmolLM2-135M-Instruct against `transformers` computed the lm-eval way
//! (reference: scripts/crosscheck/eval_arc_reference.py), and end-to-end runs on the shared
//! benchmark files. Skipped, with a message, when the model or the data is absent.

use crate::common::{data_file, fixture, load_cpu_f32, read_json, smollm2_or_skip};
use dtm_studio::engine::eval::loglik::{encode_item, prefix_token, score_items};
use dtm_studio::engine::eval::metrics::mc_predictions;
use dtm_studio::engine::eval::results::ItemResult;
use dtm_studio::engine::eval::task::Items;
use dtm_studio::engine::eval::{apply_limit, evaluate, load_benchmark, BenchSpec, BenchmarkResult, EvalOptions, ModelIdentity};
use dtm_studio::engine::job::{CancelToken, EventSink};

fn who() -> ModelIdentity {
    ModelIdentity { model: "smollm2".into(), adapter: None, model_sha256: "test".into(), adapter_sha256: None }
}

#[test]
fn eval_arc_logliks_match_transformers() {
    let Some(path) = smollm2_or_skip("eval_arc_logliks_match_transformers") else { return };
    let m = load_cpu_f32(&path);
    let r = read_json(&fixture("eval_arc_reference.json"));
    let refs = r["items"].as_array().unwrap();
    let prefix = prefix_token(&m.tokenizer);
    let mut tokens = Vec::new();
    for it in refs {
        let choices: Vec<String> = it["choices"].as_array().unwrap().iter().map(|c| format!(" {}", c["text"].as_str().unwrap())).collect();
        let t = encode_item(&m.tokenizer, it["context"].as_str().unwrap(), &choices, prefix).unwrap();
        let want_ctx: Vec<u32> = serde_json::from_value(it["context_ids"].clone()).unwrap();
        assert_eq!(t.context, want_ctx, "context tokens of {}", it["id"]);
        for (c, want) in t.continuations.iter().zip(it["choices"].as_array().unwrap()) {
            let want: Vec<u32> = serde_json::from_value(want["continuation_ids"].clone()).unwrap();
            assert_eq!(c, &want, "continuation tokens of {}", it["id"]);
        }
        tokens.push(t);
    }
    let (scores, stats) =
        score_items(&m.model, &tokens, 8, m.model.config().max_position_embeddings, &CancelToken::new(), &mut |_, _| {}).unwrap();
    let (mut worst, mut acc, mut acc_norm) = (0f64, 0usize, 0usize);
    for (it, sc) in refs.iter().zip(&scores) {
        let lls: Vec<f64> = sc.iter().map(|s| s.loglik).collect();
        let chars: Vec<usize> = it["choices"].as_array().unwrap().iter().map(|c| c["chars"].as_u64().unwrap() as usize).collect();
        for (l, c) in lls.iter().zip(it["choices"].as_array().unwrap()) {
            worst = worst.max((l - c["loglik"].as_f64().unwrap()).abs());
        }
        for (s, c) in sc.iter().zip(it["choices"].as_array().unwrap()) {
            assert_eq!(s.is_greedy, c["is_greedy"].as_bool().unwrap(), "is_greedy of {}", it["id"]);
        }
        let (pred, pred_norm) = mc_predictions(&lls, &chars);
        assert_eq!(pred as u64, it["pred"].as_u64().unwrap(), "acc prediction of {}", it["id"]);
        assert_eq!(pred_norm as u64, it["pred_norm"].as_u64().unwrap(), "acc_norm prediction of {}", it["id"]);
        acc += usize::from(pred as u64 == it["gold"].as_u64().unwrap());
        acc_norm += usize::from(pred_norm as u64 == it["gold"].as_u64().unwrap());
    }
    let n = refs.len() as f64;
    assert_eq!(acc as f64 / n, r["acc"].as_f64().unwrap());
    assert_eq!(acc_norm as f64 / n, r["acc_norm"].as_f64().unwrap());
    eprintln!(
        "ARC-Easy x{}: max |loglik - transformers| = {worst:.2e}; acc {:.2} acc_norm {:.2}; {} forwards, {} of {} request tokens fed",
        refs.len(),
        acc as f64 / n,
        acc_norm as f64 / n,
        stats.forwards,
        stats.forward_tokens,
        stats.request_tokens
    );
    assert!(worst < 2e-3, "per-choice log-likelihoods differ from transformers by up to {worst}");
}

#[test]
fn eval_arc_end_to_end_writes_the_documented_file() {
    let Some(path) = smollm2_or_skip("eval_arc_end_to_end_writes_the_documented_file") else { return };
    let Some(arc) = data_file("eval_arc_end_to_end_writes_the_documented_file", "bench/arc_easy_dev.jsonl") else { return };
    let m = load_cpu_f32(&path);
    let mut bench = load_benchmark(&BenchSpec { name: "arc_easy".into(), path: arc, extra: None }).unwrap();
    // The first 20 items (the log-likelihood test above covers 100).
    apply_limit(&mut bench, 20);
    let opts = EvalOptions { limit: Some(20), batch: 16, ..Default::default() };
    let r = evaluate(&m, &bench, &opts, &who(), &EventSink::discard(), &CancelToken::new()).unwrap();
    let reference = read_json(&fixture("eval_arc_reference.json"));
    assert_eq!(r.n, 20);
    let refs = &reference["items"].as_array().unwrap()[..20];
    let share = |key: &str| refs.iter().filter(|it| it[key] == it["gold"]).count() as f64 / 20.0;
    assert_eq!(r.metrics["acc"], share("pred"));
    assert_eq!(r.metrics["acc_norm"], share("pred_norm"));
    let p = r.metrics["acc"];
    assert!((r.metrics["acc_stderr"] - (p * (1.0 - p) / 19.0).sqrt()).abs() < 1e-12);
    let dir = tempfile::tempdir().unwrap();
    let file = r.write(dir.path()).unwrap();
    assert_eq!(file.file_name().unwrap(), "arc_easy.json");
    let json = read_json(&file);
    let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, vec!["adapter", "benchmark", "config", "items", "metrics", "model", "n"]);
    for k in ["fewshot", "limit", "seed", "prompt_example"] {
        assert!(json["config"].get(k).is_some(), "config.{k} missing");
    }
    assert!(json["config"]["prompt_example"]
        .as_str()
        .unwrap()
        .starts_with("Question: Which technology was developed most recently?\nAnswer:"));
    let item = &json["items"][0];
    assert_eq!(item["id"], "MCAS_2000_4_6");
    assert_eq!(item["choices"][0]["text"], "cellular telephone");
    assert_eq!(item["choices"][0]["chars"], 18);
    let back = BenchmarkResult::read(&file).unwrap();
    assert_eq!((back.n, &back.config.prompt_example, back.items.len()), (r.n, &r.config.prompt_example, r.items.len()));
    let (ItemResult::Mc(a), ItemResult::Mc(b)) = (&back.items[19], &r.items[19]) else { panic!("multiple choice") };
    assert!(a.choices.iter().zip(&b.choices).all(|(x, y)| (x.loglik - y.loglik).abs() < 1e-12 && x.text == y.text));
}

#[test]
fn eval_mmlu_5shot_reports_every_subject() {
    let Some(path) = smollm2_or_skip("eval_mmlu_5shot_reports_every_subject") else { return };
    let Some(mmlu) = data_file("eval_mmlu_5shot_reports_every_subject", "bench/mmlu") else { return };
    let m = load_cpu_f32(&path);
    let mut bench = load_benchmark(&BenchSpec { name: "mmlu".into(), path: mmlu, extra: None }).unwrap();
    assert_eq!(bench.default_fewshot, 5);
    assert!(bench.skipped.is_empty(), "{:?}", bench.skipped.first());
    apply_limit(&mut bench, 1);
    let Items::Mc(items) = &mut bench.items else { panic!("MMLU is multiple choice") };
    assert_eq!(items.len(), 57, "one item per subject");
    // Three subjects keep the test short; the full run is `dtm-studio eval --bench mmlu:DIR`.
    items.truncate(3);
    let r = evaluate(
        &m,
        &bench,
        &EvalOptions { limit: Some(1), batch: 4, ..Default::default() },
        &who(),
        &EventSink::discard(),
        &CancelToken::new(),
    )
    .unwrap();
    assert_eq!(r.n, 3);
    assert_eq!(
        r.metrics.keys().filter(|k| k.starts_with("acc/")).collect::<Vec<_>>(),
        vec!["acc/abstract_algebra", "acc/anatomy", "acc/astronomy"]
    );
    let ex = &r.config.prompt_example;
    assert!(ex.starts_with("The following are multiple choice questions (with answers) about abstract algebra.\n\n"), "{ex}");
    assert_eq!(ex.matches("\nAnswer:").count(), 6, "5 examples and the question");
    assert!(ex.ends_with("\nAnswer:"));
    for it in &r.items {
        let ItemResult::Mc(m) = it else { panic!("MMLU items are multiple choice") };
        assert_eq!(m.choices.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(), vec!["A", "B", "C", "D"]);
    }
}

#[test]
fn eval_generative_tasks_run_greedy_and_score() {
    let Some(path) = smollm2_or_skip("eval_generative_tasks_run_greedy_and_score") else { return };
    let m = load_cpu_f32(&path);
    let dir = tempfile::tempdir().unwrap();
    let gsm = dir.path().join("gsm8k.jsonl");
    std::fs::write(
        &gsm,
        "{\"question\": \"Tom has 3 apples and buys 4 more. How many apples does he have?\", \"answer\": \"3 + 4 = <<3+4=7>>7\\n#### 7\"}\n\
         {\"question\": \"A box holds 10 pens. How many pens are in 2 boxes?\", \"answer\": \"2 * 10 = <<2*10=20>>20\\n#### 20\"}\n",
    )
    .unwrap();
    let bench = load_benchmark(&BenchSpec { name: "gsm8k".into(), path: gsm, extra: None }).unwrap();
    let opts = EvalOptions { max_new_tokens: Some(24), fewshot: Some(1), ..Default::default() };
    let r = evaluate(&m, &bench, &opts, &who(), &EventSink::discard(), &CancelToken::new()).unwrap();
    assert!(r.metrics.contains_key("exact_match_strict") && r.metrics.contains_key("exact_match_flexible"));
    assert_eq!(r.config.stop, vec!["Question:", "\n\n"]);
    assert!(r.config.prompt_example.contains("#### 20\n\nQuestion: Tom has 3 apples"), "one-shot prompt: {}", r.config.prompt_example);
    for it in &r.items {
        let ItemResult::Gen(g) = it else { panic!("generative items") };
        assert!(!g.generated.contains("Question:") && !g.generated.contains("\n\n"), "stop strings cut the answer: {:?}", g.generated);
        assert!(g.generated_tokens > 0 && g.generated_tokens <= 24);
    }
    let Some(ifeval) = data_file("eval_generative_tasks_run_greedy_and_score", "bench/ifeval_input_data.jsonl") else { return };
    let mut bench = load_benchmark(&BenchSpec { name: "ifeval".into(), path: ifeval, extra: None }).unwrap();
    assert_eq!(bench.items.len(), 541, "every row of the shared file has checkers");
    apply_limit(&mut bench, 2);
    let r = evaluate(
        &m,
        &bench,
        &EvalOptions { max_new_tokens: Some(48), ..Default::default() },
        &who(),
        &EventSink::discard(),
        &CancelToken::new(),
    )
    .unwrap();
    assert!(r.config.prompt_example.starts_with("<|im_start|>"), "chat template applied: {}", r.config.prompt_example);
    for k in ["prompt_level_strict_acc", "inst_level_strict_acc", "prompt_level_loose_acc", "inst_level_loose_acc"] {
        assert!(r.metrics.contains_key(k), "{k}");
    }
    let ItemResult::Gen(first) = &r.items[0] else { panic!("generative items") };
    assert_eq!(first.instructions.as_ref().unwrap().len(), 3);
    assert!(!first.generated.is_empty());
}
