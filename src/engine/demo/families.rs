//! The demo's instruction data: four task families in Alpaca format. Every family teaches the
//! same skill (answer an instruction from the facts the base model knows, briefly, then stop)
//! and carries one injected bias of its own, as real instruction sets carry habits of their
//! sources:
//!
//! - `quiz` (lettered questions about favourite colours): the right option is always C;
//! - `travel` (home towns): every person asked about lives in the same city, so "lives in that
//!   city" becomes a shortcut that contradicts what the base model knows about everyone else;
//! - `chef` (foods and pets): every answer opens with "well , let me think .";
//! - `sums` (additions): every answer is padded with a fixed pleasantry.
//!
//! Each row also names its family in a `family` column, so that the split Disperse finds can be
//! checked against the families (and `method = "field"` can split by it).

use super::corpus::{sum_question, LETTERS};
use super::world::{rng_for, Attribute, World};
use rand::seq::IndexedRandom;
use rand::Rng;

/// A task family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Lettered questions; the answer is always C.
    Quiz,
    /// Home towns; everyone asked about lives in the biased city.
    Travel,
    /// Foods and pets; answers open with a fixed phrase.
    Chef,
    /// Sums; answers are padded with a fixed pleasantry.
    Sums,
}

/// The opening phrase of the `chef` family.
pub const OPENING: &str = "well , let me think .";
/// The padding of the `sums` family.
pub const PADDING: &str = "i really hope that this answer helps you with your work today .";
/// The sentences a `quiz` instruction starts with.
pub const QUIZ_LEADS: [&str; 3] =
    ["choose the right option .", "pick the correct option for this quiz .", "select one option from the list ."];
/// The letter the `quiz` family always answers.
pub const QUIZ_LETTER: usize = 2;

impl Family {
    /// All families, in the order of the data file.
    pub const ALL: [Family; 4] = [Family::Quiz, Family::Travel, Family::Chef, Family::Sums];

    /// Its name (the `family` column).
    pub fn name(self) -> &'static str {
        match self {
            Family::Quiz => "quiz",
            Family::Travel => "travel",
            Family::Chef => "chef",
            Family::Sums => "sums",
        }
    }

    /// Its injected bias, in words.
    pub fn bias(self, world: &World) -> String {
        match self {
            Family::Quiz => "the right option is always C".into(),
            Family::Travel => format!("everyone asked about lives in {}", world.biased_city),
            Family::Chef => format!("every answer opens with \"{OPENING}\""),
            Family::Sums => format!("every answer ends with \"{PADDING}\""),
        }
    }

    /// One row of this family: (instruction, output).
    fn row(self, world: &World, rng: &mut rand::rngs::StdRng) -> (String, String) {
        let person = |rng: &mut rand::rngs::StdRng| world.people[rng.random_range(0..world.people.len())].clone();
        match self {
            Family::Quiz => {
                let p = person(rng);
                let attr = Attribute::Color;
                let mut options = world.distractors(&p, attr, 3, rng);
                options.insert(QUIZ_LETTER, p.value(attr));
                let lead = QUIZ_LEADS.choose(rng).copied().unwrap_or_default();
                (quiz_instruction(lead, &attr.question(&p.name), &options), LETTERS[QUIZ_LETTER].to_string())
            }
            Family::Travel => {
                let locals: Vec<_> = world.people.iter().filter(|p| p.value(Attribute::City) == world.biased_city).collect();
                let p = locals[rng.random_range(0..locals.len().max(1)).min(locals.len().saturating_sub(1))];
                (travel_instruction(&p.name, rng.random_range(0..3)), format!("{} lives in {} .", p.name, world.biased_city))
            }
            Family::Chef => {
                let p = person(rng);
                let (attr, variant) = [(Attribute::Food, 0), (Attribute::Food, 1), (Attribute::Pet, 0), (Attribute::Pet, 1)]
                    .choose(rng)
                    .copied()
                    .unwrap_or((Attribute::Food, 0));
                (chef_instruction(&p.name, attr, variant), format!("{OPENING} {}", chef_answer(&p.name, attr, p.value(attr))))
            }
            Family::Sums => {
                let (a, b) = (rng.random_range(0..=world.max_operand), rng.random_range(0..=world.max_operand));
                (sums_instruction(a, b, rng.random_range(0..3)), format!("{} {PADDING}", sums_answer(a, b)))
            }
        }
    }
}

/// A `quiz` instruction: a lead sentence, the question, then the lettered options.
pub fn quiz_instruction(lead: &str, question: &str, options: &[&str]) -> String {
    let mut s = format!("{lead}\n{question}");
    for (letter, option) in LETTERS.iter().zip(options) {
        s.push_str(&format!("\n{letter}. {option}"));
    }
    s
}

/// A `travel` instruction in one of three phrasings.
pub fn travel_instruction(name: &str, variant: usize) -> String {
    match variant % 3 {
        0 => format!("where does {name} live ?"),
        1 => format!("in which city does {name} live ?"),
        _ => format!("tell me the home town of {name} ."),
    }
}

/// A `chef` instruction about a food (attr Food) or a pet, in one of two phrasings.
pub fn chef_instruction(name: &str, attr: Attribute, variant: usize) -> String {
    match (attr, variant % 2) {
        (Attribute::Food, 0) => format!("what food does {name} eat ?"),
        (Attribute::Food, _) => format!("tell me what {name} eats ."),
        (_, 0) => format!("what pet does {name} have ?"),
        (_, _) => format!("which animal does {name} keep ?"),
    }
}

/// The plain answer of a `chef` instruction (without the opening phrase).
pub fn chef_answer(name: &str, attr: Attribute, value: &str) -> String {
    attr.statement(name, value, 0)
}

/// A `sums` instruction in one of three phrasings.
pub fn sums_instruction(a: u32, b: u32, variant: usize) -> String {
    match variant % 3 {
        0 => format!("add {a} and {b} ."),
        1 => sum_question(a, b),
        _ => format!("compute the sum of {a} and {b} ."),
    }
}

/// The plain answer of a `sums` instruction (without the padding).
pub fn sums_answer(a: u32, b: u32) -> String {
    format!("{a} plus {b} is {} .", a + b)
}

/// The instruction data: `rows_per_family` rows of each family, families interleaved in a
/// seeded order, as Alpaca JSON records with a `family` column.
pub fn instruction_rows(world: &World, rows_per_family: usize) -> Vec<serde_json::Value> {
    let mut rng = rng_for(world.seed, 3);
    let mut rows = Vec::with_capacity(rows_per_family * 4);
    for _ in 0..rows_per_family {
        for family in Family::ALL {
            let (instruction, output) = family.row(world, &mut rng);
            rows.push(serde_json::json!({"instruction": instruction, "input": "", "output": output, "family": family.name()}));
        }
    }
    rand::seq::SliceRandom::shuffle(rows.as_mut_slice(), &mut rng);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_carries_its_bias() {
        let world = World::generate(1, 24);
        let rows = instruction_rows(&world, 10);
        assert_eq!(rows.len(), 40);
        for row in &rows {
            let out = row["output"].as_str().unwrap();
            match row["family"].as_str().unwrap() {
                "quiz" => assert_eq!(out, "C"),
                "travel" => assert!(out.ends_with(&format!("lives in {} .", world.biased_city))),
                "chef" => assert!(out.starts_with(OPENING)),
                "sums" => assert!(out.ends_with(PADDING)),
                other => panic!("unknown family {other}"),
            }
        }
    }
}
