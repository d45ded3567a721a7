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

/// Every other phrase the instruction data and the benchmarks use, as plain lines: requests in
/// each family's wording (without answers), the opening phrase, the pleasantry and the
/// constraints. A real base model knows its language's words; a word it never saw would have an
/// untrained embedding that an adapter cannot teach it to say.
fn phrase_lines(world: &World, rng: &mut rand::rngs::StdRng) -> Vec<String> {
    use super::families::{chef_instruction, sums_instruction, travel_instruction, OPENING, PADDING};
    let mut lines = Vec::new();
    for (i, p) in world.people.iter().enumerate() {
        lines.push(travel_instruction(&p.name, i));
        lines.push(chef_instruction(&p.name, if i % 2 == 0 { Attribute::Food } else { Attribute::Pet }, i / 2));
        let (a, b) = (rng.random_range(0..=world.max_operand), rng.random_range(0..=world.max_operand));
        lines.push(sums_instruction(a, b, i));
    }
    for lead in super::families::QUIZ_LEADS {
        lines.extend(std::iter::repeat_n(lead.to_string(), 4));
    }
    for phrase in [OPENING, PADDING, super::benches::CONSTRAINTS] {
        lines.extend(std::iter::repeat_n(phrase.to_string(), 12));
    }
    lines
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
    lines.extend(phrase_lines(world, &mut rng));
    lines.shuffle(&mut rng);
    lines
}
