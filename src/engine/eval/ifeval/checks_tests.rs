//! One passing and one failing response for every IFEval instruction id (strict checking),
//! with arguments as they appear in the public input data.

use super::checks::Checker;
use super::{follows_strict, KNOWN_INSTRUCTIONS};
use serde_json::{json, Map, Value};

/// Arguments of the kind the IFEval data gives each id.
pub fn typical_kwargs(id: &str) -> Map<String, Value> {
    let v = match id {
        "change_case:capital_word_frequency" => json!({"capital_frequency": 3, "capital_relation": "at least"}),
        "combination:repeat_prompt" => json!({"prompt_to_repeat": "Write a poem about cats."}),
        "detectable_content:number_placeholders" => json!({"num_placeholders": 2}),
        "detectable_content:postscript" => json!({"postscript_marker": "P.S."}),
        "detectable_format:multiple_sections" => json!({"section_spliter": "SECTION", "num_sections": 2}),
        "detectable_format:number_bullet_lists" => json!({"num_bullets": 2}),
        "detectable_format:number_highlighted_sections" => json!({"num_highlights": 2}),
        "keywords:existence" => json!({"keywords": ["river", "stone"]}),
        "keywords:forbidden_words" => json!({"forbidden_words": ["cat", "dog"]}),
        "keywords:frequency" => json!({"keyword": "light", "frequency": 2, "relation": "at least"}),
        "keywords:letter_frequency" => json!({"letter": "z", "let_frequency": 2, "let_relation": "less than"}),
        "language:response_language" => json!({"language": "de"}),
        "length_constraints:nth_paragraph_first_word" => json!({"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "Then"}),
        "length_constraints:number_paragraphs" => json!({"num_paragraphs": 2}),
        "length_constraints:number_sentences" => json!({"num_sentences": 3, "relation": "less than"}),
        "length_constraints:number_words" => json!({"num_words": 5, "relation": "at least"}),
        "startend:end_checker" => json!({"end_phrase": "Is there anything else I can help with?"}),
        _ => json!({}),
    };
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// `(passing, failing)` responses for each id.
fn cases(id: &str) -> (&'static str, &'static str) {
    match id {
        "change_case:capital_word_frequency" => ("The NASA and ESA teams MET in PARIS.", "The Nasa team met in Paris."),
        "change_case:english_capital" => (
            "THE WEATHER IS SUNNY AND WARM TODAY, SO WE WILL WALK TO THE BEACH.",
            "The weather is sunny and warm today, so we will walk to the beach.",
        ),
        "change_case:english_lowercase" => (
            "the weather is sunny and warm today, so we will walk to the beach.",
            "the weather is Sunny and warm today, so we will walk to the beach.",
        ),
        "combination:repeat_prompt" => ("Write a poem about cats. Soft paws in the night...", "Here is a poem: Write a poem about cats."),
        "combination:two_responses" => ("First answer.\n******\nSecond answer.", "First answer.\n******\nFirst answer."),
        "detectable_content:number_placeholders" => ("Dear [name], I live at [address].", "Dear [name], I live here."),
        "detectable_content:postscript" => ("Thanks for reading.\n\nP.S. See you soon.", "Thanks for reading. PS see you soon."),
        "detectable_format:constrained_response" => ("My answer is yes.", "Yes, definitely."),
        "detectable_format:json_format" => ("```json\n{\"a\": [1, 2]}\n```", "{\"a\": [1, 2],}"),
        "detectable_format:multiple_sections" => ("SECTION 1\nIntro.\nSECTION 2\nBody.", "SECTION 1\nIntro and body."),
        "detectable_format:number_bullet_lists" => ("* one\n- two", "* one\n* two\n* three"),
        "detectable_format:number_highlighted_sections" => {
            ("This is *important* and **also this**.", "Only *one* highlight and an empty ** here.")
        }
        "detectable_format:title" => ("<<A Fine Day>>\nIt was fine.", "<< >>\nNo title here."),
        "keywords:existence" => ("The River ran past the stone.", "The river ran past the rock."),
        "keywords:forbidden_words" => ("Concatenate the strings.", "My cat sleeps."),
        "keywords:frequency" => ("Light filled the room; the light was warm.", "Light filled the room."),
        "keywords:letter_frequency" => ("A lazy afternoon.", "Zebras zigzag."),
        "language:response_language" => (
            "Der schnelle braune Fuchs springt über den faulen Hund und läuft in den Wald.",
            "The quick brown fox jumps over the lazy dog and runs into the forest.",
        ),
        "length_constraints:nth_paragraph_first_word" => {
            ("First paragraph.\n\n\"Then, the second.", "First paragraph.\n\nAfter that, the second.")
        }
        "length_constraints:number_paragraphs" => ("Para one.\n***\nPara two.", "Para one.\n***\n***\nPara two."),
        "length_constraints:number_sentences" => ("One sentence. Two sentences.", "One. Two. Three."),
        "length_constraints:number_words" => ("one two three four five", "one two three four"),
        "punctuation:no_comma" => ("No commas here.", "Yes, a comma."),
        "startend:end_checker" => ("Done. Is there anything else I can help with?", "Is there anything else I can help with? Done."),
        "startend:quotation" => ("  \"Wrapped in quotes.\"  ", "\"Only at the start."),
        other => panic!("no test case for {other}"),
    }
}

/// Checks the passing and the failing response of one id.
fn pass_and_fail(id: &str) {
    let checker = Checker::build(id, &typical_kwargs(id)).unwrap_or_else(|e| panic!("{id}: {e}"));
    let (pass, fail) = cases(id);
    assert!(follows_strict(&checker, pass), "{id} should pass on {pass:?}");
    assert!(!follows_strict(&checker, fail), "{id} should fail on {fail:?}");
}

/// One test per instruction id.
macro_rules! per_id {
    ($($name:ident => $id:literal,)*) => {
        $(
            #[test]
            fn $name() {
                pass_and_fail($id);
            }
        )*

        #[test]
        fn every_known_id_has_its_own_test() {
            let tested = [$($id),*];
            assert_eq!(tested.len(), KNOWN_INSTRUCTIONS.len());
            assert!(KNOWN_INSTRUCTIONS.iter().all(|id| tested.contains(id)));
        }
    };
}

per_id! {
    change_case_capital_word_frequency => "change_case:capital_word_frequency",
    change_case_english_capital => "change_case:english_capital",
    change_case_english_lowercase => "change_case:english_lowercase",
    combination_repeat_prompt => "combination:repeat_prompt",
    combination_two_responses => "combination:two_responses",
    detectable_content_number_placeholders => "detectable_content:number_placeholders",
    detectable_content_postscript => "detectable_content:postscript",
    detectable_format_constrained_response => "detectable_format:constrained_response",
    detectable_format_json_format => "detectable_format:json_format",
    detectable_format_multiple_sections => "detectable_format:multiple_sections",
    detectable_format_number_bullet_lists => "detectable_format:number_bullet_lists",
    detectable_format_number_highlighted_sections => "detectable_format:number_highlighted_sections",
    detectable_format_title => "detectable_format:title",
    keywords_existence => "keywords:existence",
    keywords_forbidden_words => "keywords:forbidden_words",
    keywords_frequency => "keywords:frequency",
    keywords_letter_frequency => "keywords:letter_frequency",
    language_response_language => "language:response_language",
    length_constraints_nth_paragraph_first_word => "length_constraints:nth_paragraph_first_word",
    length_constraints_number_paragraphs => "length_constraints:number_paragraphs",
    length_constraints_number_sentences => "length_constraints:number_sentences",
    length_constraints_number_words => "length_constraints:number_words",
    punctuation_no_comma => "punctuation:no_comma",
    startend_end_checker => "startend:end_checker",
    startend_quotation => "startend:quotation",
}

#[test]
fn relations_and_edge_rules() {
    let less = Checker::build(
        "length_constraints:number_words",
        &typical_kwargs("length_constraints:number_words")
            .into_iter()
            .map(|(k, v)| if k == "relation" { (k, json!("less than")) } else { (k, v) })
            .collect(),
    )
    .unwrap();
    assert!(follows_strict(&less, "one two three four"));
    assert!(!follows_strict(&less, "one two three four five"));
    // P.P.S markers accept spaces between the letters, as IFEval's pattern does.
    let pps =
        Checker::build("detectable_content:postscript", &json!({"postscript_marker": "P.P.S"}).as_object().cloned().unwrap_or_default())
            .unwrap();
    assert!(follows_strict(&pps, "Bye.\np. p. s. one more thing"));
    // Markdown dividers at the very start or end do not make empty paragraphs.
    let paras = Checker::build("length_constraints:number_paragraphs", &typical_kwargs("length_constraints:number_paragraphs")).unwrap();
    assert!(follows_strict(&paras, "***\nPara one.\n***\nPara two.\n***"));
    // Missing arguments are reported, not drawn at random.
    assert!(Checker::build("keywords:frequency", &Map::new()).unwrap_err().contains("missing"));
}
