//! The train page driven through AccessKit.
