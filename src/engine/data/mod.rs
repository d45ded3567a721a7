//! Instruction data: formats, prompt templates and chat templates.

pub mod chat_template;
