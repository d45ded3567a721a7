//! Simple word tokens and an English stop-word list, shared by the built-in encoder and the
//! cluster keywords.

/// English function words that say nothing about what a text is about (plus the commonest
/// Spanish and French articles, which instruction sets often contain). Task verbs such as
/// "describe", "write" or "find" are kept on purpose: they tell kinds of instruction apart.
#[rustfmt::skip]
pub const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "ain", "all", "also", "am", "an", "and",
    "any", "are", "aren", "as", "at", "be", "because", "been", "before", "being", "below",
    "between", "both", "but", "by", "can", "could", "couldn", "d", "de", "del", "did", "didn", "do",
    "does", "doesn", "doing", "don", "down", "during", "each", "eg", "el", "en", "et", "etc", "few",
    "for", "from", "further", "had", "hadn", "has", "hasn", "have", "haven", "having", "he", "her",
    "here", "hers", "herself", "him", "himself", "his", "how", "i", "ie", "if", "in", "into", "is",
    "isn", "it", "its", "itself", "just", "la", "las", "le", "les", "let", "ll", "los", "m", "may",
    "me", "might", "mightn", "more", "most", "must", "mustn", "my", "myself", "needn", "no", "nor",
    "not", "now", "o", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves",
    "out", "over", "own", "que", "re", "s", "same", "shall", "shan", "she", "should", "shouldn",
    "so", "some", "such", "t", "than", "that", "the", "their", "theirs", "them", "themselves",
    "then", "there", "these", "they", "this", "those", "through", "to", "too", "un", "una", "under",
    "une", "until", "up", "upon", "us", "ve", "very", "via", "was", "wasn", "we", "were", "weren",
    "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "within",
    "without", "won", "would", "wouldn", "y", "yet", "you", "your", "yours", "yourself",
    "yourselves",
];

/// Whether `word` (lower case) is in [`STOP_WORDS`].
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// Lower-cased runs of letters and digits (apostrophes split words: "don't" gives "don", "t").
pub fn word_tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(|w| w.to_lowercase())
}

/// Word tokens that carry content: not stop words, at least two characters, not pure numbers.
pub fn content_words(text: &str) -> impl Iterator<Item = String> + '_ {
    word_tokens(text).filter(|w| w.chars().count() >= 2 && !is_stop_word(w) && !w.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        let mut sorted = STOP_WORDS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, STOP_WORDS);
    }

    #[test]
    fn content_words_drop_stop_words_numbers_and_case() {
        let words: Vec<String> = content_words("Write a Poem about the 2 seasons, don't rhyme!").collect();
        assert_eq!(words, ["write", "poem", "seasons", "rhyme"]);
        assert!(is_stop_word("the"));
        assert!(!is_stop_word("describe"));
    }
}
