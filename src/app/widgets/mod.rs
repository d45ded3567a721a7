//! Widgets of the pages that egui has no ready form of.

pub mod bars;
pub mod row;
pub mod scatter;
pub mod spatial;
