#!/usr/bin/env python3
"""merge_roundtrip.py [ADAPTERS_DIR] [OUT_JSON] [DTM_BIN]

Round trips of DTM Studio's merge outputs through the Python ecosystem, on SmolLM2-135M with the
four adapters of bench-anchors `make_adapters`:

  1. `dtm-studio merge --method linear --weights 0.4,0.3,0.2,0.1 --full` loads in transformers;
     its logits are compared with a PyTorch reference merge (W + sum_k c_k dW_k from PEFT's
     get_delta_weight, float64, then float32).
  2. The merged adapter of the same merge (exact, rank 64) loads in PEFT on the base; its logits
     are compared with transformers on the full folder from 1.
  3. TIES (density 0.5): the full folder in transformers vs PEFT with the truncated-SVD adapter
     at ranks 64 and 256 (the relative Frobenius errors reported by DTM Studio are recorded).

Logits are over a fixed English text (all positions, full vocabulary). Defaults:
ADAPTERS_DIR=/tmp/dtm-merge-adapters (made if missing), OUT_JSON=tests/fixtures/merge_roundtrip.json,
DTM_BIN=target/release/dtm-studio. Run from the repository root with the anchor venv.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

HOME = os.path.expanduser("~")
ANCHORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "bench-anchors")
BASE = os.path.join(os.environ.get("ANCHOR_MODELS", os.path.join(HOME, ".cache/dtm-anchors/models")), "smollm2-hf")
TEXT = "The capital of France is Paris. It is famous for the Eiffel Tower, museums and cafés."
WEIGHTS = [0.4, 0.3, 0.2, 0.1]


def logits(model, ids):
    with torch.no_grad():
        return model(ids).logits[0].double()


def load(path):
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()


def reference_linear(adapters, ids):
    base = load(BASE)
    sd = {k: v.detach().clone().double() for k, v in base.state_dict().items()}
    for w, ad in zip(WEIGHTS, adapters):
        m = PeftModel.from_pretrained(load(BASE), ad)
        for name, mod in m.named_modules():
            if hasattr(mod, "get_delta_weight") and "default" in getattr(mod, "lora_A", {}):
                key = name.replace("base_model.model.", "", 1) + ".weight"
                sd[key] += w / sum(WEIGHTS) * mod.get_delta_weight("default").detach().double()
    base.load_state_dict({k: v.float() for k, v in sd.items()}, strict=False)
    if base.config.tie_word_embeddings:
        base.tie_weights()
    return logits(base, ids)


def main():
    adapters_dir = sys.argv[1] if len(sys.argv) > 1 else "/tmp/dtm-merge-adapters"
    out_json = sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/merge_roundtrip.json"
    dtm = sys.argv[3] if len(sys.argv) > 3 else "target/release/dtm-studio"
    torch.set_num_threads(int(os.environ.get("ANCHOR_THREADS", "0") or 0) or torch.get_num_threads())
    if not os.path.isdir(adapters_dir):
        subprocess.run([os.path.join(ANCHORS, "run.sh"), "make_adapters", adapters_dir, "4"], check=True)
    adapters = [os.path.join(adapters_dir, f"sub-{k}") for k in range(4)]
    tok = AutoTokenizer.from_pretrained(BASE)
    ids = torch.tensor([tok(TEXT)["input_ids"]])
    work = tempfile.mkdtemp(prefix="dtm-roundtrip-")
    res = {"text": TEXT, "tokens": ids.shape[1], "weights": WEIGHTS}

    def dtm_merge(out, *args):
        subprocess.run([dtm, "merge", "--base", BASE, "--adapters", *adapters, *args, "--out", out],
                       check=True, stdout=subprocess.DEVNULL)
        return json.load(open(os.path.join(out, "merge_report.json")))

    try:
        w = ",".join(str(x) for x in WEIGHTS)
        full = os.path.join(work, "linear-full")
        dtm_merge(full, "--method", "linear", "--weights", w, "--full")
        lf = logits(load(full), ids)
        ref = reference_linear(adapters, ids)
        res["linear_full_vs_pytorch_reference"] = (lf - ref).abs().max().item()
        ad = os.path.join(work, "linear-adapter")
        rep = dtm_merge(ad, "--method", "linear", "--weights", w)
        la = logits(PeftModel.from_pretrained(load(BASE), ad).eval(), ids)
        res["linear_adapter_rank"] = max(m["rank"] for m in rep["adapter"]["modules"])
        res["linear_peft_adapter_vs_full"] = (la - lf).abs().max().item()
        res["linear_merge_effect"] = (lf - logits(load(BASE), ids)).abs().max().item()

        tf = os.path.join(work, "ties-full")
        dtm_merge(tf, "--method", "ties", "--weights", w, "--density", "0.5", "--full")
        lt = logits(load(tf), ids)
        for rank in (64, 256):
            ta = os.path.join(work, f"ties-r{rank}")
            rep = dtm_merge(ta, "--method", "ties", "--weights", w, "--density", "0.5", "--rank", str(rank))
            lr = logits(PeftModel.from_pretrained(load(BASE), ta).eval(), ids)
            res[f"ties_svd_rank{rank}"] = {
                "peft_adapter_vs_full_max_abs_logit_diff": (lr - lt).abs().max().item(),
                "max_rel_frobenius_error": rep["adapter"]["max_rel_error"],
                "mean_rel_frobenius_error": rep["adapter"]["mean_rel_error"],
            }
        res["ties_merge_effect"] = (lt - logits(load(BASE), ids)).abs().max().item()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res["torch"], res["peft"] = torch.__version__, __import__("peft").__version__
    print(json.dumps(res, indent=1))
    with open(out_json, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
