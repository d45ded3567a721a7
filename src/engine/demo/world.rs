//! The demo's synthetic world, made from a seed: invented people, each with a favourite colour, a
//! home town, a food and a pet, plus small sums and number comparisons. Everything the demo
//! generates (the base model's corpus, the instruction data, the benchmarks) states these facts.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// The four attributes every person has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    /// Favourite colour.
    Color,
    /// Home town.
    City,
    /// Everyday food.
    Food,
    /// Pet animal.
    Pet,
}

impl Attribute {
    /// All of them, in a fixed order.
    pub const ALL: [Attribute; 4] = [Attribute::Color, Attribute::City, Attribute::Food, Attribute::Pet];

    /// The values a person may have.
    pub fn values(self) -> &'static [&'static str] {
        match self {
            Attribute::Color => &["red", "blue", "green", "yellow", "purple", "orange"],
            Attribute::City => &["oslo", "lima", "cairo", "dublin", "tokyo", "quito"],
            Attribute::Food => &["rice", "bread", "soup", "cheese", "noodles", "apples"],
            Attribute::Pet => &["cat", "dog", "parrot", "rabbit", "turtle", "horse"],
        }
    }

    /// The plain question about `name`, as the base model's corpus and the knowledge benchmark ask it.
    pub fn question(self, name: &str) -> String {
        match self {
            Attribute::Color => format!("what color does {name} like ?"),
            Attribute::City => format!("where does {name} live ?"),
            Attribute::Food => format!("what food does {name} eat ?"),
            Attribute::Pet => format!("what pet does {name} have ?"),
        }
    }

    /// A statement of the fact, in one of several phrasings (`variant` picks one).
    pub fn statement(self, name: &str, value: &str, variant: usize) -> String {
        let forms: [String; 2] = match self {
            Attribute::Color => [format!("{name} likes the color {value} ."), format!("the favourite color of {name} is {value} .")],
            Attribute::City => [format!("{name} lives in {value} ."), format!("the home town of {name} is {value} .")],
            Attribute::Food => [format!("{name} eats {value} every day ."), format!("the food of {name} is {value} .")],
            Attribute::Pet => [format!("{name} has the pet {value} ."), format!("the pet of {name} is the {value} .")],
        };
        forms[variant % forms.len()].clone()
    }
}

/// One invented person and their four facts (indices into [`Attribute::values`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// A made-up name (two or three syllables), unique in the world.
    pub name: String,
    /// Value index per attribute, in [`Attribute::ALL`] order.
    pub facts: [usize; 4],
}

impl Person {
    /// The value of `attr`.
    pub fn value(&self, attr: Attribute) -> &'static str {
        let i = Attribute::ALL.iter().position(|a| *a == attr).unwrap_or(0);
        attr.values()[self.facts[i]]
    }
}

/// The whole world.
#[derive(Debug, Clone)]
pub struct World {
    /// The seed it was made from.
    pub seed: u64,
    /// The people.
    pub people: Vec<Person>,
    /// The home town the city family's data over-represents (its injected bias).
    pub biased_city: &'static str,
    /// Largest operand of the sums (`a + b` for `a, b` in `0..=max_operand`).
    pub max_operand: u32,
    /// Largest number in the comparisons.
    pub max_compared: u32,
}

const ONSETS: [&str; 14] = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"];
const VOWELS: [&str; 5] = ["a", "e", "i", "o", "u"];

/// A seeded random generator for one purpose (`stream`) of a world's seed.
pub fn rng_for(seed: u64, stream: u64) -> StdRng {
    StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03))
}

impl World {
    /// Makes a world of `people` persons from `seed`. A quarter of the people live in the biased
    /// city (so that the city family has enough rows); the other facts are uniform.
    pub fn generate(seed: u64, people: usize) -> Self {
        let mut rng = rng_for(seed, 1);
        let mut names = std::collections::BTreeSet::new();
        let reserved = Attribute::ALL.iter().flat_map(|a| a.values().iter()).copied().collect::<Vec<_>>();
        while names.len() < people {
            let syllables = rng.random_range(2..=3);
            let name: String = (0..syllables)
                .map(|_| format!("{}{}", ONSETS[rng.random_range(0..ONSETS.len())], VOWELS[rng.random_range(0..VOWELS.len())]))
                .collect();
            if !reserved.contains(&name.as_str()) {
                names.insert(name);
            }
        }
        let mut names: Vec<String> = names.into_iter().collect();
        names.shuffle(&mut rng);
        let cities = Attribute::City.values();
        let biased = rng.random_range(0..cities.len());
        let in_biased = people / 4;
        let people = names
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let city = if i < in_biased {
                    biased
                } else {
                    // Any other city, so that exactly a quarter live in the biased one.
                    let other = rng.random_range(0..cities.len() - 1);
                    if other >= biased {
                        other + 1
                    } else {
                        other
                    }
                };
                let facts = [rng.random_range(0..6), city, rng.random_range(0..6), rng.random_range(0..6)];
                Person { name, facts }
            })
            .collect();
        Self { seed, people, biased_city: cities[biased], max_operand: 9, max_compared: 9 }
    }

    /// `count` distinct wrong values of `attr` for `person`, in random order.
    pub fn distractors(&self, person: &Person, attr: Attribute, count: usize, rng: &mut StdRng) -> Vec<&'static str> {
        let truth = person.value(attr);
        let mut others: Vec<&'static str> = attr.values().iter().copied().filter(|v| *v != truth).collect();
        others.shuffle(rng);
        others.truncate(count);
        others
    }

    /// Every sum `(a, b)` of the world.
    pub fn sums(&self) -> Vec<(u32, u32)> {
        (0..=self.max_operand).flat_map(|a| (0..=self.max_operand).map(move |b| (a, b))).collect()
    }

    /// Every ordered pair of different numbers that are compared.
    pub fn comparisons(&self) -> Vec<(u32, u32)> {
        (0..=self.max_compared).flat_map(|a| (0..=self.max_compared).filter(move |b| *b != a).map(move |b| (a, b))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_world_and_another_seed_another() {
        let a = World::generate(3, 40);
        assert_eq!(a.people, World::generate(3, 40).people);
        assert_ne!(a.people, World::generate(4, 40).people);
        let names: std::collections::BTreeSet<_> = a.people.iter().map(|p| p.name.clone()).collect();
        assert_eq!(names.len(), 40);
        let in_biased = a.people.iter().filter(|p| p.value(Attribute::City) == a.biased_city).count();
        assert_eq!(in_biased, 10);
    }
}
