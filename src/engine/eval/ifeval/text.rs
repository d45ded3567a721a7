//! Text helpers of the IFEval checkers: word counting (NLTK's `RegexpTokenizer(r"\w+")`),
//! sentence counting (an approximation of NLTK's English punkt model), word tokenisation for
//! capital-word counts (an approximation of NLTK's `word_tokenize`), and Python's
//! `str.isupper` / `str.islower`.
//!
//! punkt is a trained model; the rule used here agrees with it on ordinary prose and lists:
//! a sentence ends at `.`, `?` or `!` (closing quotes and brackets may follow) before
//! whitespace or the end, except after a known abbreviation or a single-letter initial.

/// Python's `\w` for `str`: letters, digits, underscore (as `str.isalnum()` or `_`).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Number of `\w+` runs (IFEval's `count_words`).
pub fn count_words(text: &str) -> usize {
    let mut n = 0;
    let mut in_word = false;
    for c in text.chars() {
        let w = is_word_char(c);
        if w && !in_word {
            n += 1;
        }
        in_word = w;
    }
    n
}

/// Abbreviations after which a period does not end a sentence (lower case, without the final
/// period), the common ones of punkt's English model.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "u.s", "u.k", "inc", "ltd", "co", "corp", "no", "fig",
    "approx", "dept", "est", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mt", "ft", "gen", "gov",
    "sen", "rep", "rev", "capt", "lt", "col", "sgt", "a.m", "p.m", "ph.d", "al", "cf", "ca",
];

const CLOSERS: &[char] = &['"', '\'', '”', '’', ')', ']', '}', '»'];

fn ends_sentence(token: &str) -> bool {
    let core = token.trim_end_matches(CLOSERS);
    let Some(last) = core.chars().last() else { return false };
    if last == '?' || last == '!' {
        return true;
    }
    if last != '.' {
        return false;
    }
    let stem = core.trim_end_matches('.').trim_start_matches(['"', '\'', '“', '‘', '(', '[']);
    let lower = stem.to_lowercase();
    if ABBREVIATIONS.contains(&lower.as_str()) {
        return false;
    }
    // A single-letter initial such as "J." (but not a list marker "1." or the word "I.").
    let mut chars = stem.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        if c.is_alphabetic() && c != 'I' {
            return false;
        }
    }
    true
}

/// Approximate punkt sentence count.
pub fn count_sentences(text: &str) -> usize {
    let mut count = 0;
    let mut open = false;
    for token in text.split_whitespace() {
        open = true;
        if ends_sentence(token) {
            count += 1;
            open = false;
        }
    }
    count + usize::from(open)
}

/// Approximate `nltk.word_tokenize`: whitespace tokens with leading/trailing punctuation split
/// off and English contractions (`n't`, `'s`, `'ll`, `'re`, `'ve`, `'m`, `'d`) separated.
pub fn word_tokenize(text: &str) -> Vec<String> {
    const EDGE: &[char] = &['"', '\'', '“', '”', '‘', '’', '(', ')', '[', ']', '{', '}', ',', ';', ':', '!', '?', '.', '`', '*', '<', '>'];
    let mut out = Vec::new();
    for raw in text.split_whitespace() {
        let start = raw.len() - raw.trim_start_matches(EDGE).len();
        let trimmed_end = raw.trim_end_matches(EDGE);
        if trimmed_end.len() <= start {
            out.extend(raw.chars().filter(|c| !c.is_whitespace()).map(String::from));
            continue;
        }
        out.extend(raw[..start].chars().map(String::from));
        let word = &raw[start..trimmed_end.len()];
        let lower = word.to_lowercase();
        let split = ["n't", "'s", "'ll", "'re", "'ve", "'m", "'d"]
            .iter()
            .find(|s| lower.ends_with(*s) && lower.len() > s.len())
            .map(|s| word.len() - s.len());
        match split {
            Some(at) if word.is_char_boundary(at) => {
                out.push(word[..at].to_string());
                out.push(word[at..].to_string());
            }
            _ => out.push(word.to_string()),
        }
        out.extend(raw[trimmed_end.len()..].chars().map(String::from));
    }
    out
}

/// Python's `str.isupper()`: some cased character and none lower case.
pub fn is_upper(s: &str) -> bool {
    s.chars().any(|c| c.is_uppercase()) && !s.chars().any(|c| c.is_lowercase())
}

/// Python's `str.islower()`: some cased character and none upper case.
pub fn is_lower(s: &str) -> bool {
    s.chars().any(|c| c.is_lowercase()) && !s.chars().any(|c| c.is_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_runs_of_word_characters() {
        assert_eq!(count_words("Hello, world! It's 2024_x."), 5);
        assert_eq!(count_words(""), 0);
    }

    #[test]
    fn sentences_end_at_terminal_punctuation_but_not_abbreviations() {
        assert_eq!(count_sentences("Dr. Smith arrived. He was late! Why?"), 3);
        assert_eq!(count_sentences("We met J. Doe, e.g. at noon. Fine"), 2);
        assert_eq!(count_sentences("He said \"stop.\" Then left."), 2);
        assert_eq!(count_sentences("   "), 0);
    }

    #[test]
    fn tokenizer_splits_punctuation_and_contractions() {
        assert_eq!(word_tokenize("\"DON'T stop,\" she said."), vec!["\"", "DO", "N'T", "stop", ",", "\"", "she", "said", "."]);
        assert_eq!(word_tokenize("WELL-KNOWN U.S"), vec!["WELL-KNOWN", "U.S"]);
    }

    #[test]
    fn case_predicates_follow_python() {
        assert!(is_upper("HELLO 123!") && !is_upper("123") && !is_upper("HeLLO"));
        assert!(is_lower("hello 123!") && !is_lower("123") && !is_lower("hEllo"));
    }
}
