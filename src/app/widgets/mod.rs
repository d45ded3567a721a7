//! Widgets of the pages that egui has no ready form of.

pub mod bars;
pub mod curve_data;
pub mod loss_chart;
pub mod row;
pub mod scatter;
pub mod spatial;
