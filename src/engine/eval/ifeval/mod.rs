//! IFEval: verifiable instructions checked on a generated response, strictly and loosely
//! (Zhou et al. 2023; the rules of Google's `evaluation_lib.py` as lm-eval runs them).
//!
//! Strict: the response must be non-blank and pass the checker. Loose: any of eight variants
//! passes — the response, without its first line, without its last line, without both, and each
//! of those four with every `*` removed.

pub mod checks;
pub mod lang;
pub mod text;

#[cfg(test)]
mod checks_tests;

pub use checks::Checker;

use crate::engine::eval::task::IfEvalItem;

/// The instruction ids with a checker (every id of the public IFEval input data).
pub const KNOWN_INSTRUCTIONS: &[&str] = &[
    "change_case:capital_word_frequency",
    "change_case:english_capital",
    "change_case:english_lowercase",
    "combination:repeat_prompt",
    "combination:two_responses",
    "detectable_content:number_placeholders",
    "detectable_content:postscript",
    "detectable_format:constrained_response",
    "detectable_format:json_format",
    "detectable_format:multiple_sections",
    "detectable_format:number_bullet_lists",
    "detectable_format:number_highlighted_sections",
    "detectable_format:title",
    "keywords:existence",
    "keywords:forbidden_words",
    "keywords:frequency",
    "keywords:letter_frequency",
    "language:response_language",
    "length_constraints:nth_paragraph_first_word",
    "length_constraints:number_paragraphs",
    "length_constraints:number_sentences",
    "length_constraints:number_words",
    "punctuation:no_comma",
    "startend:end_checker",
    "startend:quotation",
];

/// The eight response variants of loose checking, in IFEval's order.
pub fn loose_variants(response: &str) -> Vec<String> {
    let lines: Vec<&str> = response.split('\n').collect();
    let n = lines.len();
    let remove_first = lines[1.min(n)..].join("\n").trim().to_string();
    let remove_last = lines[..n.saturating_sub(1)].join("\n").trim().to_string();
    let remove_both = if n >= 2 { lines[1..n - 1].join("\n").trim().to_string() } else { String::new() };
    vec![
        response.to_string(),
        response.replace('*', ""),
        remove_first.clone(),
        remove_last.clone(),
        remove_both.clone(),
        remove_first.replace('*', ""),
        remove_last.replace('*', ""),
        remove_both.replace('*', ""),
    ]
}

/// Whether `checker` passes on `response` strictly.
pub fn follows_strict(checker: &Checker, response: &str) -> bool {
    !response.trim().is_empty() && checker.check(response)
}

/// Whether `checker` passes on any loose variant of `response`.
pub fn follows_loose(checker: &Checker, variants: &[String]) -> bool {
    variants.iter().any(|r| !r.trim().is_empty() && checker.check(r))
}

/// The outcome of one instruction.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InstructionOutcome {
    /// The instruction id.
    pub id: String,
    /// Followed under strict checking.
    pub strict: bool,
    /// Followed under loose checking.
    pub loose: bool,
}

/// Checks every instruction of `item` on `response`. Instructions whose arguments are invalid
/// count as not followed (the loader already rejects such rows).
pub fn check_item(item: &IfEvalItem, response: &str) -> Vec<InstructionOutcome> {
    let variants = loose_variants(response);
    item.instructions
        .iter()
        .map(|ins| match Checker::build(&ins.id, &ins.kwargs) {
            Ok(c) => InstructionOutcome { id: ins.id.clone(), strict: follows_strict(&c, response), loose: follows_loose(&c, &variants) },
            Err(_) => InstructionOutcome { id: ins.id.clone(), strict: false, loose: false },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_variants_follow_ifeval() {
        let v = loose_variants("Sure! Here it is:\n*hello*\nHope this helps");
        assert_eq!(v[2], "*hello*\nHope this helps");
        assert_eq!(v[3], "Sure! Here it is:\n*hello*");
        assert_eq!(v[4], "*hello*");
        assert_eq!(v[7], "hello");
        assert_eq!(loose_variants("one line")[4], "");
    }

    #[test]
    fn loose_passes_when_a_preamble_breaks_strict() {
        let item = IfEvalItem {
            id: "1".into(),
            line: 1,
            prompt: "p".into(),
            instructions: vec![crate::engine::eval::task::Instruction { id: "startend:quotation".into(), kwargs: Default::default() }],
        };
        let out = check_item(&item, "Here is my answer:\n\"All quoted.\"");
        assert_eq!(out, vec![InstructionOutcome { id: "startend:quotation".into(), strict: false, loose: true }]);
        assert!(!check_item(&item, "   ")[0].strict);
    }

    #[test]
    fn every_known_id_builds_with_typical_arguments() {
        for id in KNOWN_INSTRUCTIONS {
            let kw = checks_tests::typical_kwargs(id);
            assert!(Checker::build(id, &kw).is_ok(), "{id} does not build");
        }
    }
}
