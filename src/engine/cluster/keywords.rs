//! What each portion is about: top keywords by class-based TF-IDF (c-TF-IDF, as BERTopic: a
//! word's frequency within the portion, times `ln(1 + A / f)` with `A` the average word count per
//! portion and `f` the word's frequency over all portions), and the rows nearest each centroid.

use super::quality::sq_dist;
use crate::engine::embed::words::content_words;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One keyword of a portion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keyword {
    /// The word (lower case).
    pub word: String,
    /// Its c-TF-IDF weight in the portion.
    pub score: f64,
}

/// Words that frame almost every instruction ("Given the following input, ...") and so say
/// nothing about a portion; left out of the keywords only.
pub const INSTRUCTION_BOILERPLATE: &[&str] = &["based", "following", "given", "input", "noinput", "output", "provided", "using"];

/// The `top` keywords of each of the `k` portions of `texts` (labelled by `labels`).
pub fn class_tfidf_keywords(texts: &[String], labels: &[u32], k: usize, top: usize) -> Vec<Vec<Keyword>> {
    let mut counts: Vec<HashMap<String, u64>> = vec![HashMap::new(); k];
    let mut totals = vec![0u64; k];
    for (t, &l) in texts.iter().zip(labels) {
        for w in content_words(t).filter(|w| !INSTRUCTION_BOILERPLATE.contains(&w.as_str())) {
            *counts[l as usize].entry(w).or_insert(0) += 1;
            totals[l as usize] += 1;
        }
    }
    let mut overall: HashMap<&str, u64> = HashMap::new();
    for c in &counts {
        for (w, n) in c {
            *overall.entry(w.as_str()).or_insert(0) += n;
        }
    }
    let avg_words = totals.iter().sum::<u64>() as f64 / k.max(1) as f64;
    counts
        .iter()
        .zip(&totals)
        .map(|(c, &total)| {
            let mut scored: Vec<Keyword> = c
                .iter()
                .map(|(w, &n)| {
                    let tf = n as f64 / total.max(1) as f64;
                    let f = overall.get(w.as_str()).copied().unwrap_or(1) as f64;
                    Keyword { word: w.clone(), score: tf * (1.0 + avg_words / f).ln() }
                })
                .collect();
            scored.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.word.cmp(&b.word)));
            scored.truncate(top);
            scored
        })
        .collect()
}

/// For each portion, the `per_portion` rows nearest its centroid as `(row, squared distance)`,
/// nearest first.
pub fn nearest_to_centroids(x: &[f32], dim: usize, labels: &[u32], centroids: &[f32], per_portion: usize) -> Vec<Vec<(usize, f32)>> {
    let k = centroids.len() / dim.max(1);
    let mut best: Vec<Vec<(usize, f32)>> = vec![Vec::with_capacity(per_portion + 1); k];
    for (i, (r, &l)) in x.chunks_exact(dim).zip(labels).enumerate() {
        let j = l as usize;
        let d = sq_dist(r, &centroids[j * dim..(j + 1) * dim]);
        let list = &mut best[j];
        if list.len() < per_portion || list.last().is_some_and(|&(_, worst)| d < worst) {
            let at = list.partition_point(|&(_, e)| e <= d);
            list.insert(at, (i, d));
            list.truncate(per_portion);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_tell_portions_apart() {
        let texts: Vec<String> = [
            "Write a poem about the sea",
            "Write a poem about love",
            "Compose a short poem",
            "Convert 10 miles to kilometers",
            "Convert this temperature to Celsius",
            "Calculate the area of a circle",
        ]
        .map(String::from)
        .to_vec();
        let labels = [0, 0, 0, 1, 1, 1];
        let kw = class_tfidf_keywords(&texts, &labels, 2, 3);
        assert_eq!(kw[0][0].word, "poem");
        assert_eq!(kw[1][0].word, "convert");
        assert!(kw.iter().flatten().all(|k| k.word != "the" && k.word != "a"));
        assert!(kw[0].len() == 3 && kw[0][0].score >= kw[0][1].score);
    }

    #[test]
    fn nearest_rows_are_sorted_and_per_portion() {
        let x = [0.0f32, 0.0, 1.0, 0.0, 0.15, 0.0, 9.0, 9.0];
        let labels = [0, 0, 0, 1];
        let near = nearest_to_centroids(&x, 2, &labels, &[0.1, 0.0, 9.0, 9.0], 2);
        assert_eq!(near[0].iter().map(|p| p.0).collect::<Vec<_>>(), vec![2, 0]);
        assert_eq!(near[1], vec![(3, 0.0)]);
    }
}
