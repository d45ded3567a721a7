#!/usr/bin/env python3
"""make_tiny_models.py [OUT_DIR]

Builds three tiny, seeded, random float32 causal LMs with Hugging Face transformers
(Llama with llama3 RoPE scaling + GQA, Qwen2 with q/k/v biases + tied embeddings,
Mistral with an explicit head_dim != hidden/heads), a shared 300-token byte-level BPE
tokenizer with ChatML specials, and reference logits for a fixed [2, 10] batch.

Output (default OUT_DIR = tests/fixtures):
  OUT_DIR/tiny-{llama,qwen2,mistral}/
      config.json              written by save_pretrained, plus legacy keys
                               (rope_theta, rope_scaling, torch_dtype) next to the
                               transformers-v5 `rope_parameters`, so either style parses
      model.safetensors        float32 weights
      generation_config.json
      tokenizer.json           shared byte-level BPE, vocab exactly 300
      tokenizer_config.json    bos <|im_start|>, eos <|im_end|>, ChatML chat_template
      special_tokens_map.json
      reference_logits.json    {"input_ids", "logits" [2][10][300], "transformers", ...}

Re-running is deterministic (same seeds, same training text).
"""
import json
import os
import shutil
import sys

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

torch.set_num_threads(1)

VOCAB = 300
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]  # ids 0, 1, 2 (as in SmolLM2)
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

TRAIN_TEXT = """\
The quick brown fox jumps over the lazy dog. The dog sleeps in the sun, and the fox runs
into the forest. In the morning the farmer walks to the market with bread, cheese and
apples. She sells the apples to the people of the town, who like to eat them with honey.
There is a river near the town; the children swim in the river when the weather is warm.
What is the capital of France? The capital of France is Paris. It is a beautiful city.
You are a helpful assistant. I am happy to help you with your question about the world.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000 2024 3.14159. Code: def main(): return 0
for i in range(10): print(i)  # the end
"""

COMMON = dict(
    vocab_size=VOCAB,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    rms_norm_eps=1e-5,
    max_position_embeddings=128,
    hidden_act="silu",
    bos_token_id=1,
    eos_token_id=2,
)


def build_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([TRAIN_TEXT] * 4, trainer=trainer)
    assert tok.get_vocab_size() == VOCAB, tok.get_vocab_size()
    for i, s in enumerate(SPECIALS):
        assert tok.token_to_id(s) == i, (s, tok.token_to_id(s))
    return tok


def save_tokenizer(tok, out):
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        pad_token="<|im_end|>",
        model_max_length=128,
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    # save_jinja_files=False keeps the chat template inside tokenizer_config.json.
    fast.save_pretrained(out, save_jinja_files=False)
    jinja = os.path.join(out, "chat_template.jinja")
    if os.path.exists(jinja):
        os.remove(jinja)
    cfg_path = os.path.join(out, "tokenizer_config.json")
    cfg = json.load(open(cfg_path))
    cfg["bos_token"] = "<|im_start|>"
    cfg["eos_token"] = "<|im_end|>"
    cfg["chat_template"] = CHAT_TEMPLATE
    cfg["add_bos_token"] = False
    cfg["add_eos_token"] = False
    # transformers v5 writes "TokenizersBackend"; the v4 name loads in both.
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    json.dump(cfg, open(cfg_path, "w"), indent=2, ensure_ascii=False)
    sp = os.path.join(out, "special_tokens_map.json")
    json.dump(
        {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
         "unk_token": "<|endoftext|>", "pad_token": "<|im_end|>"},
        open(sp, "w"), indent=2)


def reinit(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():  # tied params appear once
            noise = torch.randn(p.shape, generator=g, dtype=torch.float32) * 0.2
            if name.endswith("norm.weight"):
                p.copy_(1.0 + noise)
            else:
                p.copy_(noise)


def patch_config_json(out, legacy):
    """Add v4-style keys alongside v5's rope_parameters so both parse."""
    path = os.path.join(out, "config.json")
    cfg = json.load(open(path))
    cfg.update(legacy)
    cfg.setdefault("torch_dtype", "float32")
    json.dump(cfg, open(path, "w"), indent=2, sort_keys=True)
    return cfg


def logits_of(model, ids):
    with torch.no_grad():
        return model(input_ids=ids, use_cache=False).logits.float()


def main():
    out_root = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    tok = build_tokenizer()

    llama3 = {
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 16,
    }
    specs = [
        ("tiny-llama", LlamaConfig, LlamaForCausalLM,
         dict(COMMON, tie_word_embeddings=False,
              rope_parameters=dict(llama3, rope_theta=10000.0)),
         dict(rope_theta=10000.0, rope_scaling=llama3), 1001),
        ("tiny-qwen2", Qwen2Config, Qwen2ForCausalLM,
         dict(COMMON, tie_word_embeddings=True, use_sliding_window=False,
              rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
         dict(rope_theta=1000000.0, rope_scaling=None), 1002),
        ("tiny-mistral", MistralConfig, MistralForCausalLM,
         dict(COMMON, tie_word_embeddings=False, head_dim=32, sliding_window=None,
              rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
         dict(rope_theta=10000.0, rope_scaling=None), 1003),
    ]

    ids = torch.randint(0, VOCAB, (2, 10), generator=torch.Generator().manual_seed(1234))

    for name, cfg_cls, model_cls, kw, legacy, seed in specs:
        out = os.path.join(out_root, name)
        if os.path.isdir(out):
            shutil.rmtree(out)
        os.makedirs(out)
        torch.manual_seed(seed)
        cfg = cfg_cls(**kw)
        model = model_cls(cfg).to(torch.float32).eval()
        reinit(model, seed)
        model.save_pretrained(out, safe_serialization=True)
        patch_config_json(out, legacy)
        save_tokenizer(tok, out)

        logits = logits_of(model, ids)
        rot = model.model.rotary_emb
        ref = {
            "input_ids": ids.tolist(),
            "logits": logits.tolist(),  # python floats -> full precision in json
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "rope_inv_freq": rot.inv_freq.float().tolist(),
            "rope_attention_scaling": float(rot.attention_scaling),
        }
        with open(os.path.join(out, "reference_logits.json"), "w") as f:
            json.dump(ref, f)

        # Sanity: reload from disk and check logits are identical.
        re = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
        diff = (logits_of(re, ids) - logits).abs().max().item()
        rt = AutoTokenizer.from_pretrained(out)
        assert len(rt) == VOCAB, len(rt)
        chat = rt.apply_chat_template([{"role": "user", "content": "Hi"}],
                                      tokenize=False, add_generation_prompt=True)
        print(json.dumps({
            "model": name,
            "params": model.num_parameters(),
            "safetensors_bytes": os.path.getsize(os.path.join(out, "model.safetensors")),
            "logits_std": logits.std().item(),
            "logits_absmax": logits.abs().max().item(),
            "reload_max_abs_diff": diff,
            "chat": chat,
        }))
        assert diff == 0.0, diff


if __name__ == "__main__":
    main()
