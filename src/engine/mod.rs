//! Everything that computes. The engine never depends on the GUI; both front ends call it.

pub mod bench;
pub mod cluster;
pub mod cpu;
pub mod data;
pub mod demo;
pub mod device;
pub mod embed;
pub mod eval;
pub mod fsutil;
pub mod hash;
pub mod job;
pub mod known_models;
pub mod memory;
pub mod merge;
pub mod model;
pub mod parity;
pub mod pipeline;
pub mod report;
pub mod train;
