//! The verifiable-instruction checkers, ported from Google's IFEval (`instructions.py`, as
//! vendored by lm-evaluation-harness): same regular expressions, same counting rules.

use super::lang::is_language;
use super::text::{count_sentences, count_words, is_lower, is_upper, word_tokenize};
use regex::Regex;
use serde_json::{Map, Value};

/// `less than` / `at least`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// actual < threshold
    LessThan,
    /// actual >= threshold
    AtLeast,
}

impl Relation {
    fn holds(self, actual: usize, threshold: usize) -> bool {
        match self {
            Relation::LessThan => actual < threshold,
            Relation::AtLeast => actual >= threshold,
        }
    }
}

/// One instruction with its arguments, ready to check responses.
#[derive(Debug, Clone, PartialEq)]
pub enum Checker {
    /// `language:response_language`
    ResponseLanguage(String),
    /// `length_constraints:number_sentences`
    NumberSentences(usize, Relation),
    /// `detectable_content:number_placeholders`
    Placeholders(usize),
    /// `detectable_format:number_bullet_lists`
    BulletLists(usize),
    /// `detectable_format:constrained_response`
    ConstrainedResponse,
    /// `detectable_format:number_highlighted_sections`
    Highlights(usize),
    /// `detectable_format:multiple_sections` (splitter, count)
    Sections(String, usize),
    /// `length_constraints:number_paragraphs`
    Paragraphs(usize),
    /// `detectable_content:postscript`
    Postscript(String),
    /// `keywords:existence`
    KeywordsExist(Vec<String>),
    /// `keywords:frequency` (keyword, count, relation)
    KeywordFrequency(String, usize, Relation),
    /// `length_constraints:number_words`
    NumberWords(usize, Relation),
    /// `detectable_format:json_format`
    JsonFormat,
    /// `length_constraints:nth_paragraph_first_word` (paragraphs, nth, first word)
    NthParagraphFirstWord(usize, usize, String),
    /// `keywords:forbidden_words`
    ForbiddenWords(Vec<String>),
    /// `combination:two_responses`
    TwoResponses,
    /// `combination:repeat_prompt`
    RepeatPrompt(String),
    /// `startend:end_checker`
    EndPhrase(String),
    /// `detectable_format:title`
    Title,
    /// `keywords:letter_frequency` (letter, count, relation)
    LetterFrequency(char, usize, Relation),
    /// `change_case:english_capital`
    EnglishCapital,
    /// `change_case:english_lowercase`
    EnglishLowercase,
    /// `punctuation:no_comma`
    NoComma,
    /// `change_case:capital_word_frequency`
    CapitalWordFrequency(usize, Relation),
    /// `startend:quotation`
    Quotation,
}

fn count_arg(kw: &Map<String, Value>, key: &str) -> Result<usize, String> {
    match kw.get(key) {
        Some(Value::Number(n)) => {
            n.as_u64().map(|u| u as usize).ok_or_else(|| format!("argument '{key}' should be a non-negative integer"))
        }
        Some(other) => Err(format!("argument '{key}' should be an integer, found {other}")),
        None => Err(format!("argument '{key}' is missing")),
    }
}

fn str_arg(kw: &Map<String, Value>, key: &str) -> Result<String, String> {
    match kw.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("argument '{key}' should be a string, found {other}")),
        None => Err(format!("argument '{key}' is missing")),
    }
}

fn list_arg(kw: &Map<String, Value>, key: &str) -> Result<Vec<String>, String> {
    match kw.get(key) {
        Some(Value::Array(a)) => {
            a.iter().map(|v| v.as_str().map(str::to_string).ok_or_else(|| format!("argument '{key}' should hold strings"))).collect()
        }
        _ => Err(format!("argument '{key}' should be a list of strings")),
    }
}

fn relation_arg(kw: &Map<String, Value>, key: &str) -> Result<Relation, String> {
    match str_arg(kw, key)?.as_str() {
        "less than" => Ok(Relation::LessThan),
        "at least" => Ok(Relation::AtLeast),
        other => Err(format!("argument '{key}' should be 'less than' or 'at least', found '{other}'")),
    }
}

/// A regex from a pattern IFEval inserts verbatim, escaped when it is not a valid pattern.
fn user_regex(prefix: &str, pattern: &str, suffix: &str) -> Regex {
    Regex::new(&format!("{prefix}{pattern}{suffix}"))
        .unwrap_or_else(|_| Regex::new(&format!("{prefix}{}{suffix}", regex::escape(pattern))).unwrap_or_else(|_| never()))
}

fn never() -> Regex {
    // A pattern that cannot fail to compile and never matches.
    Regex::new(r"[^\s\S]").unwrap_or_else(|_| unreachable!("constant pattern"))
}

/// A constant pattern, compiled once.
macro_rules! static_re {
    ($p:literal) => {{
        static R: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| Regex::new($p).unwrap_or_else(|_| never()));
        &*R
    }};
}

impl Checker {
    /// Builds the checker for `id` from its arguments (IFEval's `build_description`). Missing or
    /// invalid arguments are errors (IFEval would draw random ones).
    pub fn build(id: &str, kw: &Map<String, Value>) -> Result<Self, String> {
        Ok(match id {
            "language:response_language" => Checker::ResponseLanguage(str_arg(kw, "language")?),
            "length_constraints:number_sentences" => {
                Checker::NumberSentences(count_arg(kw, "num_sentences")?, relation_arg(kw, "relation")?)
            }
            "detectable_content:number_placeholders" => Checker::Placeholders(count_arg(kw, "num_placeholders")?),
            "detectable_format:number_bullet_lists" => Checker::BulletLists(count_arg(kw, "num_bullets")?),
            "detectable_format:constrained_response" => Checker::ConstrainedResponse,
            "detectable_format:number_highlighted_sections" => Checker::Highlights(count_arg(kw, "num_highlights")?),
            "detectable_format:multiple_sections" => {
                Checker::Sections(str_arg(kw, "section_spliter")?.trim().to_string(), count_arg(kw, "num_sections")?)
            }
            "length_constraints:number_paragraphs" => Checker::Paragraphs(count_arg(kw, "num_paragraphs")?),
            "detectable_content:postscript" => Checker::Postscript(str_arg(kw, "postscript_marker")?.trim().to_string()),
            "keywords:existence" => {
                let mut k = list_arg(kw, "keywords")?;
                k.sort();
                Checker::KeywordsExist(k)
            }
            "keywords:frequency" => Checker::KeywordFrequency(
                str_arg(kw, "keyword")?.trim().to_string(),
                count_arg(kw, "frequency")?,
                relation_arg(kw, "relation")?,
            ),
            "length_constraints:number_words" => Checker::NumberWords(count_arg(kw, "num_words")?, relation_arg(kw, "relation")?),
            "detectable_format:json_format" => Checker::JsonFormat,
            "length_constraints:nth_paragraph_first_word" => {
                let (n, nth) = (count_arg(kw, "num_paragraphs")?, count_arg(kw, "nth_paragraph")?);
                if nth == 0 || nth > n {
                    return Err(format!("nth_paragraph {nth} should be between 1 and num_paragraphs {n}"));
                }
                Checker::NthParagraphFirstWord(n, nth, str_arg(kw, "first_word")?.to_lowercase())
            }
            "keywords:forbidden_words" => {
                let mut w = list_arg(kw, "forbidden_words")?;
                w.sort();
                w.dedup();
                Checker::ForbiddenWords(w)
            }
            "combination:two_responses" => Checker::TwoResponses,
            "combination:repeat_prompt" => Checker::RepeatPrompt(str_arg(kw, "prompt_to_repeat")?),
            "startend:end_checker" => Checker::EndPhrase(str_arg(kw, "end_phrase")?.trim().to_string()),
            "detectable_format:title" => Checker::Title,
            "keywords:letter_frequency" => {
                let letter = str_arg(kw, "letter")?;
                let mut chars = letter.trim().chars();
                let c = match (chars.next(), chars.next()) {
                    (Some(c), None) if c.is_ascii_alphabetic() => c.to_ascii_lowercase(),
                    _ => return Err(format!("argument 'letter' should be one letter a-z, found '{letter}'")),
                };
                Checker::LetterFrequency(c, count_arg(kw, "let_frequency")?, relation_arg(kw, "let_relation")?)
            }
            "change_case:english_capital" => Checker::EnglishCapital,
            "change_case:english_lowercase" => Checker::EnglishLowercase,
            "punctuation:no_comma" => Checker::NoComma,
            "change_case:capital_word_frequency" => {
                Checker::CapitalWordFrequency(count_arg(kw, "capital_frequency")?, relation_arg(kw, "capital_relation")?)
            }
            "startend:quotation" => Checker::Quotation,
            other => return Err(format!("instruction '{other}' has no checker")),
        })
    }

    /// IFEval's `check_following` for one response.
    pub fn check(&self, value: &str) -> bool {
        match self {
            Checker::ResponseLanguage(lang) => is_language(value, lang),
            Checker::NumberSentences(n, rel) => rel.holds(count_sentences(value), *n),
            Checker::Placeholders(n) => static_re!(r"\[.*?\]").find_iter(value).count() >= *n,
            Checker::BulletLists(n) => {
                static_re!(r"(?m)^\s*\*[^\*].*$").find_iter(value).count() + static_re!(r"(?m)^\s*-.*$").find_iter(value).count() == *n
            }
            Checker::ConstrainedResponse => {
                let v = value.trim();
                ["My answer is yes.", "My answer is no.", "My answer is maybe."].iter().any(|o| v.contains(o))
            }
            Checker::Highlights(n) => {
                let single =
                    static_re!(r"\*[^\n\*]*\*").find_iter(value).filter(|m| !m.as_str().trim_matches('*').trim().is_empty()).count();
                let double = static_re!(r"\*\*[^\n\*]*\*\*")
                    .find_iter(value)
                    .filter(|m| !m.as_str()[2..m.as_str().len() - 2].trim().is_empty())
                    .count();
                single + double >= *n
            }
            // IFEval counts `len(re.split(...)) - 1` sections.
            Checker::Sections(splitter, n) => user_regex(r"\s?", splitter, r"\s?\d+\s?").split(value).count() > *n,
            Checker::Paragraphs(n) => {
                let parts: Vec<&str> = static_re!(r"\s?\*\*\*\s?").split(value).collect();
                let mut count = parts.len();
                for (i, p) in parts.iter().enumerate() {
                    if p.trim().is_empty() {
                        if i == 0 || i == parts.len() - 1 {
                            count -= 1;
                        } else {
                            return false;
                        }
                    }
                }
                count == *n
            }
            Checker::Postscript(marker) => {
                let lower = value.to_lowercase();
                let custom;
                let pattern: &Regex = match marker.as_str() {
                    "P.P.S" => static_re!(r"(?m)\s*p\.\s?p\.\s?s.*$"),
                    "P.S." => static_re!(r"(?m)\s*p\.\s?s\..*$"),
                    other => {
                        custom = user_regex(r"(?m)\s*", &other.to_lowercase(), r".*$");
                        &custom
                    }
                };
                pattern.is_match(&lower)
            }
            Checker::KeywordsExist(words) => words.iter().all(|k| user_regex("(?i)", k, "").is_match(value)),
            Checker::KeywordFrequency(k, n, rel) => rel.holds(user_regex("(?i)", k, "").find_iter(value).count(), *n),
            Checker::NumberWords(n, rel) => rel.holds(count_words(value), *n),
            Checker::JsonFormat => {
                let v = value.trim();
                let v = v.strip_prefix("```json").unwrap_or(v);
                let v = v.strip_prefix("```Json").unwrap_or(v);
                let v = v.strip_prefix("```JSON").unwrap_or(v);
                let v = v.strip_prefix("```").unwrap_or(v);
                let v = v.strip_suffix("```").unwrap_or(v).trim();
                serde_json::from_str::<serde::de::IgnoredAny>(v).is_ok()
            }
            Checker::NthParagraphFirstWord(n, nth, first) => nth_paragraph_first_word(value, *n, *nth, first),
            Checker::ForbiddenWords(words) => !words.iter().any(|w| user_regex(r"(?i)\b", w, r"\b").is_match(value)),
            Checker::TwoResponses => {
                let parts: Vec<&str> = value.split("******").collect();
                let mut valid = Vec::new();
                for (i, p) in parts.iter().enumerate() {
                    if p.trim().is_empty() {
                        if i != 0 && i != parts.len() - 1 {
                            return false;
                        }
                    } else {
                        valid.push(*p);
                    }
                }
                valid.len() == 2 && valid[0].trim() != valid[1].trim()
            }
            Checker::RepeatPrompt(p) => value.trim().to_lowercase().starts_with(&p.trim().to_lowercase()),
            Checker::EndPhrase(p) => value.trim().trim_matches('"').to_lowercase().ends_with(&p.trim().to_lowercase()),
            Checker::Title => static_re!(r"<<[^\n]+>>")
                .find_iter(value)
                .any(|m| !m.as_str().trim_start_matches('<').trim_end_matches('>').trim().is_empty()),
            Checker::LetterFrequency(c, n, rel) => rel.holds(value.to_lowercase().chars().filter(|x| x == c).count(), *n),
            Checker::EnglishCapital => is_upper(value) && is_language(value, "en"),
            Checker::EnglishLowercase => is_lower(value) && is_language(value, "en"),
            Checker::NoComma => !value.contains(','),
            Checker::CapitalWordFrequency(n, rel) => rel.holds(word_tokenize(value).iter().filter(|w| is_upper(w)).count(), *n),
            Checker::Quotation => {
                let v = value.trim();
                v.chars().count() > 1 && v.starts_with('"') && v.ends_with('"')
            }
        }
    }
}

fn nth_paragraph_first_word(value: &str, expected: usize, nth: usize, first_word: &str) -> bool {
    let paragraphs: Vec<&str> = value.split("\n\n").collect();
    let count = paragraphs.len() - paragraphs.iter().filter(|p| p.trim().is_empty()).count();
    if nth > count {
        return false;
    }
    let paragraph = paragraphs[nth - 1].trim();
    let Some(word) = paragraph.split_whitespace().next() else { return false };
    let word = word.trim().trim_start_matches('\'').trim_start_matches('"');
    let mut got = String::new();
    for c in word.chars() {
        if ['.', ',', '?', '!', '\'', '"'].contains(&c) {
            break;
        }
        got.extend(c.to_lowercase());
    }
    count == expected && got == first_word
}
