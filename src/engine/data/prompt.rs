//! Prompt rendering: an example becomes a sequence of text segments, each marked as prompt (no
//! loss) or response (trained), with the Alpaca template (the paper's default) or the model's
//! own chat template.

use super::chat_template::{alpaca_prompt, ChatMessage};
use super::example::Example;
use crate::engine::model::TextTokenizer;

/// Which template turns an example into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptTemplate {
    /// The Stanford Alpaca prompt; later turns follow as further `### Instruction:` blocks.
    #[default]
    Alpaca,
    /// The model's chat template (ChatML when the model ships none).
    Chat,
}

impl std::str::FromStr for PromptTemplate {
    type Err = super::error::DataError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "alpaca" => Ok(Self::Alpaca),
            "chat" | "model" | "chat-template" => Ok(Self::Chat),
            other => Err(super::error::DataError::BadOption(format!("unknown prompt template '{other}'; choose alpaca or chat"))),
        }
    }
}

/// How examples are rendered and tokenised. `Default` is the paper's setting: Alpaca template,
/// 1024 tokens, first turn only.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PromptOptions {
    /// The template.
    pub template: PromptTemplate,
    /// Longest tokenised example; longer ones are truncated at the end.
    pub max_len: usize,
    /// Train on the first user / assistant exchange only (the paper's setting).
    pub first_turn_only: bool,
}

impl Default for PromptOptions {
    fn default() -> Self {
        Self { template: PromptTemplate::Alpaca, max_len: 1024, first_turn_only: true }
    }
}

/// A piece of rendered text; `train` marks a response (loss is taken on its tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The text.
    pub text: String,
    /// Whether this is a response (trained on) rather than prompt.
    pub train: bool,
}

/// The turns used under `opts`: all of them, or the first exchange.
fn used_turns<'a>(ex: &'a Example, opts: &PromptOptions) -> &'a [ChatMessage] {
    if opts.first_turn_only {
        &ex.turns[..ex.turns.len().min(2)]
    } else {
        &ex.turns
    }
}

/// The first Alpaca block: the preamble (or the example's system prompt in its place), the
/// instruction and, for Alpaca records, the input.
pub fn alpaca_first_prompt(ex: &Example, user: &str) -> String {
    let input = ex.input_text();
    let split = if input.is_empty() { None } else { user.strip_suffix(&format!("\n\n{input}")) };
    let prompt = match split {
        Some(instruction) => alpaca_prompt(instruction, input),
        None => alpaca_prompt(user, ""),
    };
    match (&ex.system, prompt.split_once("\n\n")) {
        (Some(system), Some((_, body))) => format!("{system}\n\n{body}"),
        _ => prompt,
    }
}

/// A later Alpaca block, following the previous response and its end-of-sequence token.
pub fn alpaca_next_prompt(user: &str) -> String {
    format!("\n\n### Instruction:\n{user}\n\n### Response:\n")
}

/// Renders an example as alternating prompt / response segments (responses without the EOS
/// token; the tokeniser adds it). Chat-template rendering needs `tok`.
pub fn render_segments(ex: &Example, tok: Option<&TextTokenizer>, opts: &PromptOptions) -> Result<Vec<Segment>, String> {
    let turns = used_turns(ex, opts);
    match opts.template {
        PromptTemplate::Alpaca => Ok(alpaca_segments(ex, turns)),
        PromptTemplate::Chat => {
            let tok = tok.ok_or("the chat template needs the model's tokenizer")?;
            chat_segments(ex, turns, tok)
        }
    }
}

fn alpaca_segments(ex: &Example, turns: &[ChatMessage]) -> Vec<Segment> {
    let mut out = Vec::with_capacity(turns.len());
    for (i, pair) in turns.chunks(2).enumerate() {
        let prompt = if i == 0 { alpaca_first_prompt(ex, &pair[0].content) } else { alpaca_next_prompt(&pair[0].content) };
        out.push(Segment { text: prompt, train: false });
        if let Some(reply) = pair.get(1) {
            out.push(Segment { text: reply.content.clone(), train: true });
        }
    }
    out
}

/// Renders growing prefixes of the conversation with the chat template and cuts the text at
/// each assistant turn: `render(turns[..k], generation prompt)` ends where reply k begins and
/// `render(turns[..=k])` where it ends.
fn chat_segments(ex: &Example, turns: &[ChatMessage], tok: &TextTokenizer) -> Result<Vec<Segment>, String> {
    let mut messages: Vec<ChatMessage> = Vec::with_capacity(turns.len() + 1);
    messages.extend(ex.system.as_deref().map(|s| ChatMessage::new("system", s)));
    let offset = messages.len();
    messages.extend(turns.iter().cloned());
    let mut out = Vec::with_capacity(turns.len());
    let mut done = String::new();
    for (k, m) in messages.iter().enumerate().skip(offset) {
        if m.role != "assistant" {
            continue;
        }
        let before = tok.render_chat(&messages[..k], true).map_err(|e| e.to_string())?;
        let after = tok.render_chat(&messages[..=k], false).map_err(|e| e.to_string())?;
        let (Some(prompt), Some(reply)) = (before.strip_prefix(done.as_str()), after.strip_prefix(before.as_str())) else {
            return Err(format!(
                "the chat template does not render this conversation incrementally (at assistant turn {}), so the reply cannot be told apart from the prompt; use the alpaca template",
                (k - offset) / 2 + 1
            ));
        };
        out.push(Segment { text: prompt.to_string(), train: false });
        out.push(Segment { text: reply.to_string(), train: true });
        done = after;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn example(turns: &[(&str, &str)], input: &str, system: Option<&str>) -> Example {
        let mut fields = BTreeMap::new();
        if !input.is_empty() {
            fields.insert(Example::INPUT_FIELD.to_string(), input.to_string());
        }
        Example {
            row: 0,
            line: 1,
            system: system.map(str::to_string),
            turns: turns.iter().map(|(r, c)| ChatMessage::new(r, c)).collect(),
            fields,
        }
    }

    #[test]
    fn alpaca_single_turn_with_input_matches_the_template() {
        let ex = example(&[("user", "Add\n\n1 2"), ("assistant", "3")], "1 2", None);
        let segs = render_segments(&ex, None, &PromptOptions::default()).unwrap();
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].text, alpaca_prompt("Add", "1 2"));
        assert_eq!(segs[1], Segment { text: "3".into(), train: true });
    }

    #[test]
    fn alpaca_multi_turn_and_system() {
        let ex = example(&[("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2")], "", Some("Be terse."));
        let first = render_segments(&ex, None, &PromptOptions::default()).unwrap();
        assert_eq!(first.len(), 2);
        assert!(first[0].text.starts_with("Be terse.\n\n### Instruction:\nq1\n\n### Response:\n"), "{}", first[0].text);
        let all = render_segments(&ex, None, &PromptOptions { first_turn_only: false, ..Default::default() }).unwrap();
        let texts: Vec<_> = all.iter().map(|s| (s.text.as_str(), s.train)).collect();
        assert_eq!(texts[2], ("\n\n### Instruction:\nq2\n\n### Response:\n", false));
        assert_eq!(texts[3], ("a2", true));
    }
}
