//! The playground page driven through AccessKit.
