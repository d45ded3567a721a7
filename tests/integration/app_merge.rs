//! The merge page driven through AccessKit.
