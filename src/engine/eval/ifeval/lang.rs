//! Language identification for `language:response_language` and the English-case checks.
//!
//! IFEval uses Python's `langdetect`; DTM Studio uses the `whatlang` crate (trigram profiles of
//! 70 languages, no model files). whatlang has no Swahili profile, so Swahili (`sw`) is
//! recognised by the share of common Swahili function words in a Latin-script text. When no
//! language can be detected (no letters at all), the instruction counts as followed, as IFEval
//! does when `langdetect` raises.

use whatlang::Lang;

/// ISO 639-1 code of a whatlang language (IFEval's codes), or its ISO 639-3 code when there is
/// no two-letter one.
pub fn iso639_1(lang: Lang) -> &'static str {
    match lang {
        Lang::Eng => "en",
        Lang::Spa => "es",
        Lang::Por => "pt",
        Lang::Ara => "ar",
        Lang::Hin => "hi",
        Lang::Fra => "fr",
        Lang::Rus => "ru",
        Lang::Deu => "de",
        Lang::Jpn => "ja",
        Lang::Ita => "it",
        Lang::Ben => "bn",
        Lang::Ukr => "uk",
        Lang::Tha => "th",
        Lang::Urd => "ur",
        Lang::Tam => "ta",
        Lang::Tel => "te",
        Lang::Bul => "bg",
        Lang::Kor => "ko",
        Lang::Pol => "pl",
        Lang::Heb => "he",
        Lang::Pes => "fa",
        Lang::Vie => "vi",
        Lang::Nep => "ne",
        Lang::Kan => "kn",
        Lang::Mar => "mr",
        Lang::Guj => "gu",
        Lang::Pan => "pa",
        Lang::Mal => "ml",
        Lang::Fin => "fi",
        Lang::Cmn => "zh",
        Lang::Nld => "nl",
        Lang::Swe => "sv",
        Lang::Dan => "da",
        Lang::Nob => "no",
        Lang::Tur => "tr",
        Lang::Ces => "cs",
        Lang::Ell => "el",
        Lang::Hun => "hu",
        Lang::Ron => "ro",
        Lang::Ind => "id",
        other => other.code(),
    }
}

const SWAHILI_WORDS: &[&str] = &[
    "na", "ya", "wa", "kwa", "ni", "za", "la", "katika", "kuwa", "hii", "hiyo", "cha", "vya", "pia", "lakini", "au", "kama", "sana",
    "yake", "wake", "watu", "mtu", "hata", "baada", "kabla", "ambayo", "ambao", "huu", "hizi", "hao", "yeye", "wao", "sisi", "mimi",
    "wewe", "nini", "gani", "kila", "zaidi", "tu", "bado", "sasa", "leo", "kisha", "hapa", "ndani", "juu", "chini", "kati", "wakati",
    "siku", "mwaka", "kitu", "vitu", "ili", "ikiwa", "kwamba", "hivyo", "hakuna", "kuna", "ana", "alikuwa", "inaweza", "yako", "yangu",
    "wangu", "wako", "habari", "asante", "ndiyo", "hapana", "nyingi", "kubwa", "mzuri", "nzuri", "sababu", "jinsi",
];

/// Share of words of `text` that are common Swahili function words.
fn swahili_share(text: &str) -> f64 {
    let words: Vec<String> = text.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    if words.is_empty() {
        return 0.0;
    }
    words.iter().filter(|w| SWAHILI_WORDS.contains(&w.as_str())).count() as f64 / words.len() as f64
}

/// The detected language's ISO 639-1 code (`"sw"` for Swahili-looking text), or `None` when
/// nothing can be detected.
pub fn detect(text: &str) -> Option<String> {
    let info = whatlang::detect(text)?;
    if info.script() == whatlang::Script::Latin && swahili_share(text) >= 0.2 {
        return Some("sw".into());
    }
    Some(iso639_1(info.lang()).to_string())
}

/// Whether `text` is in `language` (ISO 639-1); undetectable text counts as following.
pub fn is_language(text: &str, language: &str) -> bool {
    match detect(text) {
        Some(code) => code == language,
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_languages_ifeval_asks_for() {
        assert_eq!(detect("The quick brown fox jumps over the lazy dog and runs into the forest.").as_deref(), Some("en"));
        assert_eq!(detect("Der schnelle braune Fuchs springt über den faulen Hund und läuft in den Wald.").as_deref(), Some("de"));
        assert_eq!(detect("Быстрая коричневая лиса прыгает через ленивую собаку и убегает в лес.").as_deref(), Some("ru"));
        assert_eq!(detect("तेज भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है और जंगल में भाग जाती है।").as_deref(), Some("hi"));
        assert_eq!(
            detect("Mbweha mwepesi wa kahawia anaruka juu ya mbwa mvivu na kukimbia katika msitu kwa sababu ni mchana.").as_deref(),
            Some("sw")
        );
        assert!(is_language("12345 !!!", "fr"), "undetectable text counts as followed");
    }

    #[test]
    fn uppercase_english_is_still_english() {
        assert_eq!(detect("THE WEATHER TODAY IS SUNNY AND WARM, SO WE WILL GO TO THE BEACH.").as_deref(), Some("en"));
    }
}
