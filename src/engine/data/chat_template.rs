//! Chat prompts: a model's own Jinja `chat_template` rendered as `transformers` renders it
//! (trim_blocks, lstrip_blocks, `raise_exception`, Python string methods), and the Alpaca template.

use minijinja::{Environment, ErrorKind};
use serde::{Deserialize, Serialize};

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// "system", "user" or "assistant".
    pub role: String,
    /// The text of the turn.
    pub content: String,
}

impl ChatMessage {
    /// A turn with the given role.
    pub fn new(role: &str, content: &str) -> Self {
        Self { role: role.to_string(), content: content.to_string() }
    }
}

/// Special-token strings a template may refer to.
#[derive(Debug, Clone, Default)]
pub struct TemplateTokens {
    /// `bos_token`.
    pub bos: String,
    /// `eos_token`.
    pub eos: String,
}

/// Renders a Jinja chat template with `messages`, `add_generation_prompt`, `bos_token` and
/// `eos_token`, matching `tokenizer.apply_chat_template(..., tokenize=False)`.
pub fn render_chat_template(
    template: &str,
    messages: &[ChatMessage],
    add_generation_prompt: bool,
    tokens: &TemplateTokens,
) -> Result<String, String> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", |msg: String| -> Result<String, minijinja::Error> {
        Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
    });
    env.add_function("strftime_now", |_fmt: String| -> String { String::new() });
    env.add_template("chat", template).map_err(|e| format!("the template does not parse: {e:#}"))?;
    let tmpl = env.get_template("chat").map_err(|e| e.to_string())?;
    tmpl.render(minijinja::context! {
        messages => messages,
        add_generation_prompt => add_generation_prompt,
        bos_token => tokens.bos,
        eos_token => tokens.eos,
    })
    .map_err(|e| format!("rendering failed: {e:#}"))
}

/// The Stanford Alpaca prompt (the paper's default), ending where the response begins.
pub fn alpaca_prompt(instruction: &str, input: &str) -> String {
    if input.trim().is_empty() {
        format!(
            "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n"
        )
    } else {
        format!(
            "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
        )
    }
}

/// A generic ChatML template, used when a model ships none.
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

#[cfg(test)]
mod tests {
    use super::*;

    const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn renders_smollm2_template_with_generation_prompt() {
        let out = render_chat_template(SMOLLM2, &[ChatMessage::new("user", "Hi")], true, &TemplateTokens::default()).unwrap();
        assert_eq!(
            out,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn python_methods_and_raise_exception_work() {
        let t = "{% if messages[0]['role'] == 'assistant' %}{{ raise_exception('must start with user') }}{% endif %}{{ bos_token }}{{ messages[0]['content'].strip() }}";
        let ok =
            render_chat_template(t, &[ChatMessage::new("user", "  x  ")], false, &TemplateTokens { bos: "<s>".into(), eos: String::new() })
                .unwrap();
        assert_eq!(ok, "<s>x");
        let err = render_chat_template(t, &[ChatMessage::new("assistant", "x")], false, &TemplateTokens::default()).unwrap_err();
        assert!(err.contains("must start with user"), "{err}");
    }

    #[test]
    fn trim_and_lstrip_blocks_match_transformers() {
        let t = "{% for m in messages %}\n    {{ m.content }}\n{% endfor %}";
        let out =
            render_chat_template(t, &[ChatMessage::new("user", "a"), ChatMessage::new("user", "b")], false, &TemplateTokens::default())
                .unwrap();
        assert_eq!(out, "    a\n    b\n");
    }

    #[test]
    fn alpaca_with_and_without_input() {
        assert!(alpaca_prompt("Add", "1 2").contains("### Input:\n1 2\n\n### Response:\n"));
        assert!(!alpaca_prompt("Add", "").contains("### Input"));
    }
}
