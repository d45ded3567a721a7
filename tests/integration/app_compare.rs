//! The compare page driven through AccessKit.
