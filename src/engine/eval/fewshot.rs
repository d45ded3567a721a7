//! Few-shot prompts as lm-eval builds them: description, then each example as
//! `query + target_delimiter + target + "\n\n"`, then the item's query.
//!
//! MMLU takes the first N dev examples of the item's subject (lm-eval's `first_n`). Other tasks
//! draw N examples from the pool (or, without one, from the other items of the file) with a
//! generator seeded by `seed` and the item's position, so an item's prompt does not depend on
//! the `limit` or on the other items. The draw is not Python's `random`, so seeded few-shot
//! examples differ from lm-eval's ones (MMLU's do not).

use super::task::{Benchmark, FewshotSampler, Items};
use rand::{Rng, SeedableRng};

/// lm-eval's separator between few-shot examples.
pub const FEWSHOT_DELIMITER: &str = "\n\n";

/// Indices of `n` pool entries for item `item_index`: the first `n` eligible ones, or `n` drawn
/// with the seed. `eligible` says which pool entries may be used (same subject, not the item).
pub fn select_examples(eligible: &[usize], n: usize, sampler: FewshotSampler, seed: u64, item_index: usize) -> Vec<usize> {
    match sampler {
        FewshotSampler::FirstN => eligible.iter().take(n).copied().collect(),
        FewshotSampler::Seeded => {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ item_index as u64);
            let mut pool = eligible.to_vec();
            let take = n.min(pool.len());
            for i in 0..take {
                let j = rng.random_range(i..pool.len());
                pool.swap(i, j);
            }
            pool.truncate(take);
            pool
        }
    }
}

fn join(description: String, examples: Vec<String>, query: &str) -> String {
    let mut out = description;
    for e in examples {
        out.push_str(&e);
        out.push_str(FEWSHOT_DELIMITER);
    }
    out.push_str(query);
    out
}

/// The full context of item `index`, with `n` few-shot examples.
pub fn context_for(bench: &Benchmark, index: usize, n: usize, seed: u64) -> String {
    match &bench.items {
        Items::Mc(items) => {
            let item = &items[index];
            let (pool, own) = match &bench.fewshot_pool {
                Items::Mc(p) if !p.is_empty() => (p, false),
                _ => (items, true),
            };
            let eligible: Vec<usize> =
                (0..pool.len()).filter(|&k| !(own && k == index) && (item.group.is_none() || pool[k].group == item.group)).collect();
            let picked = if n == 0 { Vec::new() } else { select_examples(&eligible, n, bench.fewshot_sampler, seed, index) };
            join(bench.description_for(item.group.as_deref()), picked.iter().map(|&k| pool[k].as_example()).collect(), &item.query)
        }
        Items::Gsm8k(items) => {
            let item = &items[index];
            let (pool, own) = match &bench.fewshot_pool {
                Items::Gsm8k(p) if !p.is_empty() => (p, false),
                _ => (items, true),
            };
            let eligible: Vec<usize> = (0..pool.len()).filter(|&k| !(own && k == index)).collect();
            let picked = if n == 0 { Vec::new() } else { select_examples(&eligible, n, bench.fewshot_sampler, seed, index) };
            join(
                bench.description_for(None),
                picked.iter().map(|&k| format!("{} {}", pool[k].query, pool[k].target)).collect(),
                &item.query,
            )
        }
        Items::IfEval(items) => items[index].prompt.clone(),
        Items::Heldout(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::eval::task::{McItem, TaskKind};

    fn mc(id: &str, group: &str, gold: usize) -> McItem {
        McItem {
            id: id.into(),
            line: 1,
            query: format!("{id}?\nAnswer:"),
            choices: vec!["A".into(), "B".into()],
            delimiter: " ".into(),
            gold,
            group: Some(group.into()),
        }
    }

    fn bench(items: Vec<McItem>, pool: Vec<McItem>, sampler: FewshotSampler) -> Benchmark {
        Benchmark {
            name: "t".into(),
            kind: TaskKind::MultipleChoice,
            path: "t".into(),
            prompt_format: "t".into(),
            items: Items::Mc(items),
            description: "About {group}.\n\n".into(),
            fewshot_pool: Items::Mc(pool),
            fewshot_sampler: sampler,
            default_fewshot: 0,
            skipped: Vec::new(),
        }
    }

    #[test]
    fn first_n_takes_the_subjects_dev_examples_in_order() {
        let b = bench(
            vec![mc("q", "high_school_physics", 0)],
            vec![mc("d1", "anatomy", 0), mc("d2", "high_school_physics", 1), mc("d3", "high_school_physics", 0)],
            FewshotSampler::FirstN,
        );
        let ctx = context_for(&b, 0, 5, 1234);
        assert_eq!(ctx, "About high school physics.\n\nd2?\nAnswer: B\n\nd3?\nAnswer: A\n\nq?\nAnswer:");
    }

    #[test]
    fn seeded_draw_excludes_the_item_and_is_reproducible() {
        let items: Vec<McItem> = (0..20).map(|i| mc(&format!("q{i}"), "g", 0)).collect();
        let mut b = bench(items, Vec::new(), FewshotSampler::Seeded);
        b.description.clear();
        let a = context_for(&b, 3, 4, 1234);
        assert_eq!(a, context_for(&b, 3, 4, 1234));
        assert_ne!(a, context_for(&b, 3, 4, 99));
        assert_eq!(a.matches("Answer:").count(), 5);
        assert!(!a.contains("q3?\nAnswer: A"), "the item itself must not be its own example: {a}");
        assert_eq!(context_for(&b, 3, 0, 1234), "q3?\nAnswer:");
    }
}
