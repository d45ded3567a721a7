//! The frame around the pages: sidebar of steps, top bar, log panel, status bar and the About
//! window.

pub mod about;
pub mod badge;
pub mod log_panel;
pub mod sidebar;
pub mod status_bar;
pub mod top_bar;
