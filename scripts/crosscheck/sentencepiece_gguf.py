"""A tiny Llama GGUF whose tokenizer is SentencePiece (`tokenizer.ggml.model = llama`), and the
token ids transformers' GGUF tokenizer gives for tricky strings.

    python scripts/crosscheck/sentencepiece_gguf.py [OUT_DIR=tests/fixtures]

Needs `pip install transformers gguf sentencepiece numpy` (no PyTorch). Writes:

- `tiny-sp.gguf`: a one-layer Llama (hidden 16, random f32 weights) with a SentencePiece BPE
  vocabulary of 400 pieces trained here with byte fallback (256 `<0xNN>` tokens), the control
  tokens `<unk>`, `<s>`, `</s>`, a user-defined `<think>`, scores and token types, no merges (as
  Llama 2 and TinyLlama files have none), `add_bos_token` true and a chat template;
- `sentencepiece_gguf_reference.json`: for each string, transformers' ids with and without the
  special tokens, and its decoding of the ids.

Deterministic: the corpus is generated, SentencePiece trains single-threaded, the weights come
from a seeded generator.
"""

import json
import os
import sys
import tempfile

import gguf
import numpy as np
import sentencepiece as spm
from transformers import AutoTokenizer

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
NAME = "tiny-sp.gguf"

WORDS = (
    "the quick brown fox jumps over a lazy dog while seven tired wizards quietly mix "
    "strong potions under the old bridge near river banks and every morning children "
    "count apples oranges numbers letters colours cities rivers mountains instructions "
    "answers questions models tokens training merging portions weights"
).split()

TRICKY = [
    "Hello world",
    " Hello world",
    "  two leading spaces",
    "trailing space ",
    "multiple   inner    spaces",
    "line one\nline two\n\nafter a blank line",
    "tab\tseparated\tvalues",
    "digits 1234567890 and 3.14159",
    "accents: café, naïve, Zürich, São Paulo",
    "emoji 🙂 and 🚀 fall back to bytes",
    "中文字符 and Ελληνικά",
    "<s> literal bos inside text </s>",
    "<think>reasoning</think> answer",
    "unknownwordxyzzy qqqq",
    "a",
    "",
]


def corpus() -> str:
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(3000):
        n = int(rng.integers(3, 12))
        lines.append(" ".join(WORDS[int(i)] for i in rng.integers(0, len(WORDS), n)))
    return "\n".join(lines)


def train_sentencepiece(workdir: str) -> spm.SentencePieceProcessor:
    text = os.path.join(workdir, "corpus.txt")
    with open(text, "w", encoding="utf-8") as f:
        f.write(corpus())
    prefix = os.path.join(workdir, "sp")
    spm.SentencePieceTrainer.train(
        input=text,
        model_prefix=prefix,
        model_type="bpe",
        vocab_size=400,
        byte_fallback=True,
        user_defined_symbols=["<think>"],
        character_coverage=1.0,
        num_threads=1,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        minloglevel=2,
    )
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


def token_type(sp: spm.SentencePieceProcessor, i: int) -> int:
    if sp.is_unknown(i):
        return gguf.TokenType.UNKNOWN
    if sp.is_control(i):
        return gguf.TokenType.CONTROL
    if sp.is_byte(i):
        return gguf.TokenType.BYTE
    if sp.is_unused(i):
        return gguf.TokenType.UNUSED
    if sp.id_to_piece(i) == "<think>":
        return gguf.TokenType.USER_DEFINED
    return gguf.TokenType.NORMAL


def write_gguf(sp: spm.SentencePieceProcessor, path: str) -> None:
    hidden, ffn, vocab = 16, 32, sp.get_piece_size()
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("tiny-sp")
    w.add_context_length(64)
    w.add_embedding_length(hidden)
    w.add_block_count(1)
    w.add_feed_forward_length(ffn)
    w.add_head_count(2)
    w.add_head_count_kv(2)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_tokenizer_model("llama")
    w.add_token_list([sp.id_to_piece(i).encode("utf-8") for i in range(vocab)])
    w.add_token_scores([float(sp.get_score(i)) for i in range(vocab)])
    w.add_token_types([int(token_type(sp, i)) for i in range(vocab)])
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_chat_template(
        "{% for m in messages %}{{ '<s>' if loop.first else '' }}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant:{% endif %}"
    )
    rng = np.random.default_rng(1)

    def tensor(name, *shape):
        w.add_tensor(name, (rng.standard_normal(shape) * 0.05).astype(np.float32))

    tensor("token_embd.weight", vocab, hidden)
    w.add_tensor("blk.0.attn_norm.weight", np.ones(hidden, dtype=np.float32))
    for proj in ("attn_q", "attn_k", "attn_v", "attn_output"):
        tensor(f"blk.0.{proj}.weight", hidden, hidden)
    w.add_tensor("blk.0.ffn_norm.weight", np.ones(hidden, dtype=np.float32))
    tensor("blk.0.ffn_gate.weight", ffn, hidden)
    tensor("blk.0.ffn_up.weight", ffn, hidden)
    tensor("blk.0.ffn_down.weight", hidden, ffn)
    w.add_tensor("output_norm.weight", np.ones(hidden, dtype=np.float32))
    tensor("output.weight", vocab, hidden)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, NAME)
    with tempfile.TemporaryDirectory() as work:
        sp = train_sentencepiece(work)
    write_gguf(sp, path)
    tok = AutoTokenizer.from_pretrained(OUT, gguf_file=NAME)
    cases = []
    for text in TRICKY:
        with_special = tok(text, add_special_tokens=True)["input_ids"]
        plain = tok(text, add_special_tokens=False)["input_ids"]
        cases.append(
            {
                "text": text,
                "ids": plain,
                "ids_with_special": with_special,
                "decoded": tok.decode(plain, skip_special_tokens=False),
            }
        )
    ref = {
        "file": NAME,
        "tokenizer": "transformers " + __import__("transformers").__version__ + " AutoTokenizer.from_pretrained(gguf_file=...)",
        "vocab_size": sp.get_piece_size(),
        "cases": cases,
    }
    with open(os.path.join(OUT, "sentencepiece_gguf_reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes) and {len(cases)} cases")


if __name__ == "__main__":
    main()
