//! The table's search: the rows whose instruction, input or output contain the query (any
//! case), computed once per change of the query, on a worker when the data is large. The table
//! keeps showing the previous result until the new one is ready.

use super::view::Row;
use crate::app::task::Task;
use eframe::egui;
use rayon::prelude::*;
use std::sync::Arc;

/// Search text (bytes over all rows) up to which the search runs on the UI thread: scanning it
/// takes well under a millisecond.
pub const INLINE_BYTES: usize = 256 * 1024;

/// What the rows are filtered by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Text to find (any case); empty finds every row.
    pub text: String,
    /// Only rows the validation report names.
    pub flagged_only: bool,
}

/// The indices (ascending) of the rows matching `query`.
pub fn matching_rows(rows: &[Row], query: &Query) -> Vec<u32> {
    let needle = query.text.trim().to_lowercase();
    let keep = |r: &Row| (!query.flagged_only || r.flagged) && (needle.is_empty() || r.search.contains(&needle));
    if needle.is_empty() && !query.flagged_only {
        return (0..rows.len() as u32).collect();
    }
    rows.par_iter().enumerate().filter(|(_, r)| keep(r)).map(|(i, _)| i as u32).collect()
}

/// The search box's state and the rows it lets through.
#[derive(Default)]
pub struct RowFilter {
    /// The query as typed.
    pub query: Query,
    /// The query `shown` was computed for (`None`: not yet).
    applied: Option<Query>,
    /// Rows shown, ascending.
    shown: Vec<u32>,
    running: Option<(Query, Task<Vec<u32>>)>,
}

impl RowFilter {
    /// The rows shown now (the last result; see [`RowFilter::is_searching`]).
    pub fn shown(&self) -> &[u32] {
        &self.shown
    }

    /// Whether a newer result is being computed.
    pub fn is_searching(&self) -> bool {
        self.running.is_some() || self.applied.as_ref() != Some(&self.query)
    }

    /// Forgets the result (new data); the next [`RowFilter::update`] computes it again.
    pub fn reset(&mut self) {
        self.applied = None;
        self.running = None;
        self.shown.clear();
    }

    /// Takes in a finished search and starts one for a changed query. Call once per frame.
    pub fn update(&mut self, rows: &Arc<Vec<Row>>, search_bytes: usize, ctx: &egui::Context) {
        if let Some(result) = self.running.as_mut().and_then(|(_, t)| t.poll()) {
            let (query, _) = self.running.take().expect("polled a running search");
            self.shown = result.unwrap_or_default();
            self.applied = Some(query);
        }
        if self.running.is_some() || self.applied.as_ref() == Some(&self.query) {
            return;
        }
        let query = self.query.clone();
        if search_bytes <= INLINE_BYTES || (query.text.trim().is_empty() && !query.flagged_only) {
            self.shown = matching_rows(rows, &query);
            self.applied = Some(query);
        } else {
            let rows = Arc::clone(rows);
            let q = query.clone();
            self.running = Some((query, Task::spawn("search rows", ctx, move || matching_rows(&rows, &q))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(texts: &[(&str, bool)]) -> Vec<Row> {
        texts.iter().map(|(t, flagged)| Row { search: t.to_lowercase(), flagged: *flagged, ..Row::default() }).collect()
    }

    #[test]
    fn the_query_matches_any_case_and_the_flag_narrows() {
        let rows = rows(&[("Say hi", false), ("Name a COLOUR", true), ("colourful", false)]);
        let q = |text: &str, flagged_only| Query { text: text.into(), flagged_only };
        assert_eq!(matching_rows(&rows, &q("", false)), vec![0, 1, 2]);
        assert_eq!(matching_rows(&rows, &q(" Colour ", false)), vec![1, 2]);
        assert_eq!(matching_rows(&rows, &q("colour", true)), vec![1]);
        assert_eq!(matching_rows(&rows, &q("", true)), vec![1]);
        assert!(matching_rows(&rows, &q("nowhere", false)).is_empty());
    }

    #[test]
    fn large_data_is_searched_on_a_worker_and_small_data_at_once() {
        let ctx = egui::Context::default();
        let data = Arc::new(rows(&[("apple", false), ("banana", false)]));
        let mut f = RowFilter::default();
        f.query.text = "ban".into();
        f.update(&data, 10, &ctx);
        assert_eq!((f.shown(), f.is_searching()), (&[1u32][..], false));
        f.query.text = "app".into();
        f.update(&data, INLINE_BYTES + 1, &ctx);
        assert!(f.is_searching() && f.running.is_some(), "a large search runs on a worker");
        assert_eq!(f.shown(), &[1], "the old result stays until the new one is in");
        let start = std::time::Instant::now();
        while f.is_searching() && start.elapsed().as_secs() < 10 {
            std::thread::sleep(std::time::Duration::from_millis(2));
            f.update(&data, INLINE_BYTES + 1, &ctx);
        }
        assert_eq!(f.shown(), &[0]);
    }
}
