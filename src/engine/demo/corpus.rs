//! The base model's pre-training corpus: every fact of the world as plain statements, as
//! `Question: ... Answer: ...` lines (the knowledge benchmark's format; answered with the value
//! and with a whole sentence) and as lettered quizzes whose right answer sits at a random
//! letter, plus every sum and comparison. It never shows the instruction template: following
//! instructions in it, and stopping after the answer, is what instruction tuning adds.

use super::world::{rng_for, Attribute, World};
use rand::seq::SliceRandom;
use rand::Rng;

/// The letters of the lettered quizzes.
pub const LETTERS: [&str; 4] = ["A", "B", "C", "D"];

/// A plain question and its answer, as the corpus and the benchmarks write them.
pub fn qa_line(question: &str, answer: &str) -> String {
    format!("Question: {question}\nAnswer: {answer}")
}

/// A lettered quiz prompt: the question, then one option per line.
pub fn quiz_prompt(question: &str, options: &[&str]) -> String {
    let mut s = format!("Question: {question}");
    for (letter, option) in LETTERS.iter().zip(options) {
        s.push_str(&format!("\n{letter}. {option}"));
    }
    s.push_str("\nAnswer:");
    s
}

/// The sum question.
pub fn sum_question(a: u32, b: u32) -> String {
    format!("what is {a} plus {b} ?")
}

/// The comparison question.
pub fn compare_question(a: u32, b: u32) -> String {
    format!("which number is larger , {a} or {b} ?")
}

/// The corpus, one document per line (each ends with the end-of-sequence token when trained).
pub fn corpus_lines(world: &World) -> Vec<String> {
    let mut rng = rng_for(world.seed, 2);
    let mut lines = Vec::new();
    for p in &world.people {
        for attr in Attribute::ALL {
            let value = p.value(attr);
            for variant in 0..2 {
                lines.push(attr.statement(&p.name, value, variant));
            }
            lines.push(qa_line(&attr.question(&p.name), value));
            lines.push(qa_line(&attr.question(&p.name), &attr.statement(&p.name, value, 0)));
            let mut options = world.distractors(p, attr, 3, &mut rng);
            let at = rng.random_range(0..4);
            options.insert(at, value);
            lines.push(format!("{} {}", quiz_prompt(&attr.question(&p.name), &options), LETTERS[at]));
        }
    }
    for (a, b) in world.sums() {
        lines.push(format!("{a} plus {b} is {} .", a + b));
        lines.push(qa_line(&sum_question(a, b), &(a + b).to_string()));
        lines.push(qa_line(&sum_question(a, b), &format!("{a} plus {b} is {} .", a + b)));
    }
    for (a, b) in world.comparisons() {
        lines.push(qa_line(&compare_question(a, b), &a.max(b).to_string()));
    }
    lines.shuffle(&mut rng);
    lines
}
