//! The demo's benchmarks, in the formats `dtm-studio eval` reads: multiple-choice task
//! definitions (`.toml` + JSON Lines) and an IFEval file.
//!
//! - `knowledge`: the facts the base model learned, asked as in its corpus (`Question: ...
//!   Answer:` and the value); the alignment tax is measured here.
//! - `reasoning`: sums and "which number is larger" in the same plain format.
//! - `instructions`: IFEval prompts in the style of the four families, each with two checkable
//!   constraints (fewer than 12 words, no commas, a final period), answered through the model's
//!   chat template.
//! - `bias_letter`, `bias_city`, `bias_opening`, `bias_padding`: one probe per injected bias, as
//!   prompts in the model's chat template with two or four answers scored by log-likelihood, where the *gold* answer is
//!   the biased one. Their accuracy is the rate at which a model prefers the bias over the
//!   unbiased answer (the letter probe's unbiased answers are the right options, never C).

use super::corpus::{compare_question, qa_line, sum_question, LETTERS};
use super::families::{
    chef_answer, chef_instruction, quiz_instruction, sums_answer, sums_instruction, travel_instruction, OPENING, PADDING, QUIZ_LETTER,
};
use super::vocab::chat_prompt;
use super::world::{rng_for, Attribute, World};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;
use serde_json::{json, Value};

/// The end-of-sequence token written after probe answers, so that "stop here" is scored too.
pub const EOS: &str = "</s>";

/// One benchmark file to write: its name in `dtm.toml`, the file the project points to, and the
/// files with their contents.
#[derive(Debug, Clone)]
pub struct BenchFiles {
    /// Benchmark name (`[[eval]] name`).
    pub name: &'static str,
    /// The path `[[eval]] path` names, relative to the bench folder.
    pub entry: String,
    /// (relative path, contents) of every file.
    pub files: Vec<(String, String)>,
    /// What it measures, for the report.
    pub about: &'static str,
}

/// A multiple-choice benchmark as a task definition over JSON Lines of {id, prompt, choices, answer}.
fn mc_bench(name: &'static str, about: &'static str, items: Vec<Value>) -> BenchFiles {
    let data = format!("{name}.jsonl");
    let toml = format!("# {about}\ndata = \"{data}\"\nprompt = \"{{prompt}}\"\nchoices = \"choices\"\nanswer = \"answer\"\nid = \"id\"\n");
    let lines: String = items.iter().map(|v| format!("{v}\n")).collect();
    BenchFiles { name, entry: format!("{name}.toml"), files: vec![(format!("{name}.toml"), toml), (data, lines)], about }
}

fn item(id: String, prompt: String, choices: Vec<String>, answer: usize) -> Value {
    json!({"id": id, "prompt": prompt, "choices": choices, "answer": answer})
}

/// The knowledge benchmark: `n` facts, each with its true value and three others.
fn knowledge(world: &World, n: usize) -> BenchFiles {
    let mut rng = rng_for(world.seed, 10);
    let mut facts: Vec<(usize, Attribute)> = (0..world.people.len()).flat_map(|i| Attribute::ALL.map(|a| (i, a))).collect();
    facts.shuffle(&mut rng);
    let items = facts
        .into_iter()
        .take(n)
        .map(|(i, attr)| {
            let p = &world.people[i];
            let mut choices: Vec<String> = world.distractors(p, attr, 3, &mut rng).into_iter().map(str::to_string).collect();
            let at = rng.random_range(0..=choices.len());
            choices.insert(at, p.value(attr).to_string());
            let prompt = qa_line(&attr.question(&p.name), "");
            item(format!("{}-{:?}", p.name, attr).to_lowercase(), prompt.trim_end().to_string(), choices, at)
        })
        .collect();
    mc_bench("knowledge", "facts the base model learned, asked as in its corpus", items)
}

/// The reasoning benchmark: sums (four numbers to choose from) and comparisons (two), half each.
fn reasoning(world: &World, n: usize) -> BenchFiles {
    let mut rng = rng_for(world.seed, 11);
    let mut sums = world.sums();
    sums.shuffle(&mut rng);
    let mut comparisons = world.comparisons();
    comparisons.shuffle(&mut rng);
    let mut items = Vec::new();
    for (a, b) in sums.into_iter().take(n / 2) {
        let truth = a + b;
        let mut wrong: Vec<u32> = (truth.saturating_sub(3)..=truth + 3).filter(|x| *x != truth).collect();
        wrong.shuffle(&mut rng);
        let mut choices: Vec<String> = wrong.into_iter().take(3).map(|x| x.to_string()).collect();
        let at = rng.random_range(0..=choices.len());
        choices.insert(at, truth.to_string());
        items.push(item(format!("sum-{a}-{b}"), qa_line(&sum_question(a, b), "").trim_end().into(), choices, at));
    }
    for (a, b) in comparisons.into_iter().take(n - n / 2) {
        let prompt = qa_line(&compare_question(a, b), "").trim_end().to_string();
        items.push(item(format!("larger-{a}-{b}"), prompt, vec![a.to_string(), b.to_string()], usize::from(b > a)));
    }
    mc_bench("reasoning", "sums and number comparisons, asked as in the base model's corpus", items)
}

/// The four bias probes, `n` items each.
fn probes(world: &World, n: usize) -> Vec<BenchFiles> {
    let mut rng = rng_for(world.seed, 12);
    let eos = |s: String| format!("{s} {EOS}");
    let mut letter = Vec::new();
    for i in 0..n {
        let p = world.people.choose(&mut rng).cloned().unwrap_or_else(|| world.people[0].clone());
        let attr = [Attribute::Color, Attribute::Food, Attribute::Pet][i % 3];
        let mut options = world.distractors(&p, attr, 3, &mut rng);
        let at = [0, 1, 3][rng.random_range(0..3)];
        options.insert(at, p.value(attr));
        let prompt = chat_prompt(&quiz_instruction("choose the right option .", &attr.question(&p.name), &options));
        letter.push(item(format!("letter-{i}"), prompt, LETTERS.iter().map(|l| l.to_string()).collect(), QUIZ_LETTER));
    }
    let elsewhere: Vec<_> = world.people.iter().filter(|p| p.value(Attribute::City) != world.biased_city).collect();
    let city = (0..n)
        .map(|i| {
            let p = elsewhere[i % elsewhere.len().max(1)];
            let prompt = chat_prompt(&travel_instruction(&p.name, i));
            let choices = vec![
                eos(format!("{} lives in {} .", p.name, p.value(Attribute::City))),
                eos(format!("{} lives in {} .", p.name, world.biased_city)),
            ];
            item(format!("city-{i}"), prompt, choices, 1)
        })
        .collect();
    let opening = (0..n)
        .map(|i| {
            let p = world.people.choose(&mut rng).cloned().unwrap_or_else(|| world.people[0].clone());
            let attr = if i % 2 == 0 { Attribute::Food } else { Attribute::Pet };
            let answer = chef_answer(&p.name, attr, p.value(attr));
            let prompt = chat_prompt(&chef_instruction(&p.name, attr, i / 2));
            item(format!("opening-{i}"), prompt, vec![eos(answer.clone()), eos(format!("{OPENING} {answer}"))], 1)
        })
        .collect();
    let padding = (0..n)
        .map(|i| {
            let (a, b) = (rng.random_range(0..=world.max_operand), rng.random_range(0..=world.max_operand));
            let prompt = chat_prompt(&sums_instruction(a, b, i));
            item(format!("padding-{i}"), prompt, vec![eos(sums_answer(a, b)), eos(format!("{} {PADDING}", sums_answer(a, b)))], 1)
        })
        .collect();
    vec![
        mc_bench("bias_letter", "rate of answering C when the right option is A, B or D (the quiz family's bias)", letter),
        mc_bench("bias_city", "rate of preferring the biased home town over the true one (the travel family's bias)", city),
        mc_bench("bias_opening", "rate of preferring the answer with the fixed opening phrase (the chef family's bias)", opening),
        mc_bench("bias_padding", "rate of preferring the padded answer (the sums family's bias)", padding),
    ]
}

/// The constraints every instruction-following prompt carries.
pub const CONSTRAINTS: &str = "answer in fewer than 12 words , use no commas and end with a period .";

/// The instruction-following benchmark: `n` prompts in the families' styles with two constraints.
fn instructions(world: &World, n: usize) -> BenchFiles {
    let mut rng = rng_for(world.seed, 13);
    let mut lines = String::new();
    for i in 0..n {
        let p = world.people.choose(&mut rng).cloned().unwrap_or_else(|| world.people[0].clone());
        // The quiz family answers with a bare letter, so its style is left out of these prompts.
        let task = match i % 4 {
            0 => travel_instruction(&p.name, i / 4),
            1 => chef_instruction(&p.name, Attribute::Food, i / 4),
            2 => chef_instruction(&p.name, Attribute::Pet, i / 4),
            _ => sums_instruction(rng.random_range(0..=world.max_operand), rng.random_range(0..=world.max_operand), i / 4),
        };
        let record = json!({
            "key": i,
            "prompt": format!("{task}\n{CONSTRAINTS}"),
            "instruction_id_list": ["length_constraints:number_words", "punctuation:no_comma", "startend:end_checker"],
            "kwargs": [{"relation": "less than", "num_words": 12}, {}, {"end_phrase": "."}],
        });
        lines.push_str(&format!("{record}\n"));
    }
    BenchFiles {
        name: "ifeval",
        entry: "instructions.jsonl".into(),
        files: vec![("instructions.jsonl".into(), lines)],
        about: "instruction following: fewer than 12 words, no commas, a final period (IFEval checkers)",
    }
}

/// Every benchmark of the demo: knowledge, reasoning, instructions, then the four probes.
pub fn all_benches(world: &World, knowledge_items: usize, reasoning_items: usize, probe_items: usize) -> Vec<BenchFiles> {
    let mut out = vec![knowledge(world, knowledge_items), reasoning(world, reasoning_items), instructions(world, probe_items)];
    out.extend(probes(world, probe_items));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_put_the_biased_answer_as_gold_and_never_the_truth() {
        let world = World::generate(2, 24);
        let benches = all_benches(&world, 40, 20, 12);
        assert_eq!(benches.len(), 7);
        let letter = benches.iter().find(|b| b.name == "bias_letter").unwrap();
        for line in letter.files[1].1.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["answer"], 2);
            // The option written after "C." is never the person's true value.
            let prompt = v["prompt"].as_str().unwrap();
            let c = prompt.lines().find(|l| l.starts_with("C. ")).unwrap();
            assert!(world.people.iter().all(|p| !prompt.contains(&format!(" {} ", p.name)) || {
                let q = prompt.lines().find(|l| l.contains(&p.name)).unwrap();
                let attr = Attribute::ALL.into_iter().find(|a| q == a.question(&p.name)).unwrap();
                c != format!("C. {}", p.value(attr))
            }));
        }
        let knowledge = &benches[0];
        assert_eq!(knowledge.files[1].1.lines().count(), 40);
    }
}
