#!/usr/bin/env python3
"""merge_mergekit.py [ADAPTERS_DIR] [OUT_JSON] [DTM_BIN]

Full merges of four SmolLM2-135M LoRA adapters by DTM Studio and by mergekit 0.1.5, compared
tensor by tensor. DTM Studio writes the merged folder and its `merge.yaml`; mergekit runs that
same recipe (`mergekit-yaml merge.yaml OUT --lora-merge-cache CACHE`), so the check covers the
recipe as well as the numbers.

Methods and weights (chosen to exercise normalisation and lambda):
  linear           weights 1,2,3,4 (mergekit normalises: W + sum w_k dW_k / 10)
  task-arithmetic  weights 0.5,0.3,0.3,0.2, lambda 0.8 (no normalisation)
  ties             weights 0.4,0.3,0.2,0.1, density 0.5 (normalised disjoint mean)

mergekit applies each LoRA to the base in float32 and merges the difference (W + dW_k) - W, so
its deltas carry the float32 rounding of W (about 1e-8 here), while DTM Studio ranks the exact
deltas. For TIES this moves the few entries that sit at the top-k magnitude threshold across
it; the script reports how many entries differ by more than 1e-6, runs the same recipe with
mergekit in float64 (`--lora-merge-dtype float64`, `dtype: float64`), where its deltas are
exact too, and as a control repeats TIES in PyTorch on exact vs mergekit-style deltas.

Defaults: ADAPTERS_DIR=/tmp/dtm-merge-adapters (made with bench-anchors make_adapters if
missing), OUT_JSON=tests/fixtures/merge_mergekit.json, DTM_BIN=target/release/dtm-studio.
Run from the repository root with the anchor venv:
  ~/.cache/dtm-anchors/venv/bin/python scripts/crosscheck/merge_mergekit.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import torch
from safetensors.torch import load_file

HOME = os.path.expanduser("~")
ANCHORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "bench-anchors")
BASE = os.path.join(os.environ.get("ANCHOR_MODELS", os.path.join(HOME, ".cache/dtm-anchors/models")), "smollm2-hf")
MERGEKIT = os.path.join(os.environ.get("MERGEKIT_VENV", os.path.join(HOME, ".cache/dtm-anchors/mergekit")), "bin", "mergekit-yaml")

CASES = [
    ("linear", ["--method", "linear", "--weights", "1,2,3,4"]),
    ("task-arithmetic", ["--method", "task-arithmetic", "--weights", "0.5,0.3,0.3,0.2", "--lambda", "0.8"]),
    ("ties", ["--method", "ties", "--weights", "0.4,0.3,0.2,0.1", "--density", "0.5"]),
]


def adapters_in(d):
    subs = sorted(x for x in os.listdir(d) if x.startswith("sub-"))
    return [os.path.join(d, s) for s in subs]


def compare(dtm_dir, mk_dir):
    a = load_file(os.path.join(dtm_dir, "model.safetensors"))
    b = load_file(os.path.join(mk_dir, "model.safetensors"))
    if "lm_head.weight" in b and "lm_head.weight" not in a:
        b.pop("lm_head.weight")  # tied embeddings: mergekit may write the tied head
    assert set(a) == set(b), f"tensor names differ: {sorted(set(a) ^ set(b))[:5]}"
    worst, worst_name, over, total = 0.0, "", 0, 0
    merged_worst = 0.0
    for name in sorted(a):
        assert a[name].shape == b[name].shape, name
        d = (a[name].double() - b[name].double()).abs()
        m = d.max().item()
        over += int((d > 1e-6).sum())
        total += d.numel()
        if m > worst:
            worst, worst_name = m, name
        if "mlp." in name:
            merged_worst = max(merged_worst, m)
    return {"max_abs_diff": worst, "worst_tensor": worst_name, "max_abs_diff_adapted": merged_worst,
            "entries_over_1e-6": over, "entries": total}


def ties_control(adapters, weights, density):
    """TIES on one tensor in float64 from exact deltas vs from mergekit-style f32 deltas."""
    from peft import PeftModel  # noqa: F401 (same venv as the adapters)
    base = load_file(os.path.join(BASE, "model.safetensors"))
    name = "model.layers.0.mlp.gate_proj"
    w = base[name + ".weight"]
    exact, rounded = [], []
    for ad in adapters:
        t = load_file(os.path.join(ad, "adapter_model.safetensors"))
        cfg = json.load(open(os.path.join(ad, "adapter_config.json")))
        s = cfg["lora_alpha"] / cfg["r"]
        A = t[f"base_model.model.{name}.lora_A.weight"].double()
        B = t[f"base_model.model.{name}.lora_B.weight"].double()
        dw = s * B @ A
        exact.append(dw)
        rounded.append(((w + dw.float()) - w).double())

    def ties(deltas):
        out = []
        for d in deltas:
            k = max(1, int(density * d.numel()))
            idx = torch.argsort(d.abs().reshape(-1), descending=True)[:k]
            m = torch.zeros(d.numel(), dtype=d.dtype)
            m[idx] = 1
            out.append(d * m.reshape(d.shape))
        x = torch.stack(out) * torch.tensor(weights, dtype=torch.float64).reshape(-1, 1, 1)
        sign = (x.sum(0) >= 0).double() * 2 - 1
        mask = x.sign() == sign
        div = (torch.tensor(weights, dtype=torch.float64).reshape(-1, 1, 1) * mask).sum(0)
        div[div == 0] = 1
        return (x * mask).sum(0) / div

    d = (ties(exact) - ties(rounded)).abs()
    return {"tensor": name + ".weight", "max_abs_diff": d.max().item(), "entries_over_1e-6": int((d > 1e-6).sum())}


def main():
    adapters_dir = sys.argv[1] if len(sys.argv) > 1 else "/tmp/dtm-merge-adapters"
    out_json = sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/merge_mergekit.json"
    dtm = sys.argv[3] if len(sys.argv) > 3 else "target/release/dtm-studio"
    if not os.path.isdir(adapters_dir) or not adapters_in(adapters_dir):
        subprocess.run([os.path.join(ANCHORS, "run.sh"), "make_adapters", adapters_dir, "4"], check=True)
    adapters = adapters_in(adapters_dir)
    work = tempfile.mkdtemp(prefix="dtm-mergekit-")
    cache = os.path.join(work, "lora-cache")
    results = {"base": BASE, "adapters": adapters, "cases": {}}
    try:
        for method, args in CASES:
            dtm_out, mk_out = os.path.join(work, "dtm-" + method), os.path.join(work, "mk-" + method)
            t = time.perf_counter()
            subprocess.run([dtm, "merge", "--base", BASE, "--adapters", *adapters, *args, "--full", "--out", dtm_out],
                           check=True, stdout=subprocess.DEVNULL)
            dtm_s = time.perf_counter() - t
            t = time.perf_counter()
            subprocess.run([MERGEKIT, os.path.join(dtm_out, "merge.yaml"), mk_out, "--lora-merge-cache", cache],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            mk_s = time.perf_counter() - t
            r = compare(dtm_out, mk_out)
            r.update({"dtm_args": args, "recipe": open(os.path.join(dtm_out, "merge.yaml")).read(),
                      "dtm_seconds": dtm_s, "mergekit_seconds_warm_cache_after_first": mk_s})
            results["cases"][method] = r
            print(json.dumps({"method": method, **{k: r[k] for k in ("max_abs_diff", "max_abs_diff_adapted", "entries_over_1e-6", "entries")}}))
            shutil.rmtree(mk_out, ignore_errors=True)
            if method == "ties":
                # The same recipe with mergekit in float64 (LoRAs applied in f64, merge in f64):
                # its deltas are then exact, like DTM Studio's, and the top-k sets agree.
                yml = os.path.join(work, "ties64.yml")
                text = open(os.path.join(dtm_out, "merge.yaml")).read().replace("dtype: float32", "dtype: float64")
                open(yml, "w").write(text)
                subprocess.run([MERGEKIT, yml, mk_out, "--lora-merge-cache", cache + "-f64", "--lora-merge-dtype", "float64"],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                r64 = compare(dtm_out, mk_out)
                results["cases"]["ties-vs-mergekit-float64"] = r64
                print(json.dumps({"method": "ties vs mergekit float64", **{k: r64[k] for k in ("max_abs_diff", "max_abs_diff_adapted", "entries_over_1e-6", "entries")}}))
                shutil.rmtree(mk_out, ignore_errors=True)
            shutil.rmtree(dtm_out, ignore_errors=True)
        results["ties_rounding_control"] = ties_control(adapters, [0.4, 0.3, 0.2, 0.1], 0.5)
        print(json.dumps({"ties_rounding_control": results["ties_rounding_control"]}))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["torch"] = torch.__version__
    with open(out_json, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
