#!/usr/bin/env python3
"""merge_tiny_reference.py [OUT_DIR=tests/fixtures/merge-tiny]

Three PEFT LoRA adapters for tests/fixtures/tiny-llama with different ranks, targets and scales,
random Fisher diagonals for them, and PyTorch reference logits of the model merged by each
method, computed from PEFT's own `get_delta_weight` (float64) following the definitions in
DESIGN.md / mergekit:

  sub-0: r=4, alpha=8, q_proj v_proj gate_proj up_proj down_proj, both layers (scale 2)
  sub-1: r=2, alpha=2, gate_proj down_proj, layer 1 only (scale 1)
  sub-2: r=4, alpha=4, rsLoRA (scale alpha/sqrt(r) = 2), gate_proj up_proj down_proj

Each adapter folder also gets `fisher.safetensors` (one positive [out, in] tensor per adapted
weight, exp(N(0, 1))). `reference.json` holds the input ids and, per case, the merge settings
(as CLI strings) and the float32 logits [10][300] of the merged model. Read by
tests/integration/merge_tiny.rs. Deterministic: re-running rewrites the same files.
"""
import json
import math
import os
import shutil
import sys

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = os.path.join(HERE, "..", "..", "tests", "fixtures", "tiny-llama")
IDS = [75, 171, 6, 65, 116, 64, 132, 225, 175, 129]

ADAPTERS = [
    dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"]),
    dict(r=2, lora_alpha=2, target_modules=["gate_proj", "down_proj"], layers_to_transform=[1]),
    dict(r=4, lora_alpha=4, use_rslora=True, target_modules=["gate_proj", "up_proj", "down_proj"]),
]


def load_base():
    return AutoModelForCausalLM.from_pretrained(BASE, dtype=torch.float32).eval()


def make_adapters(out):
    for k, cfg in enumerate(ADAPTERS):
        torch.manual_seed(100 + k)
        m = get_peft_model(load_base(), LoraConfig(lora_dropout=0.0, task_type="CAUSAL_LM", **cfg))
        with torch.no_grad():
            for n, p in m.named_parameters():
                if "lora_A" in n or "lora_B" in n:
                    p.normal_(0, 0.2)
        d = os.path.join(out, f"sub-{k}")
        shutil.rmtree(d, ignore_errors=True)
        m.save_pretrained(d)
        for extra in ("README.md",):
            p = os.path.join(d, extra)
            if os.path.exists(p):
                os.remove(p)


def deltas(out):
    """Per adapter: {weight name: float64 delta} from PEFT's get_delta_weight."""
    result = []
    for k in range(len(ADAPTERS)):
        m = PeftModel.from_pretrained(load_base(), os.path.join(out, f"sub-{k}"))
        d = {}
        for name, mod in m.named_modules():
            if hasattr(mod, "get_delta_weight") and "default" in getattr(mod, "lora_A", {}):
                key = name.replace("base_model.model.", "", 1) + ".weight"
                d[key] = mod.get_delta_weight("default").detach().double()
        result.append(d)
    return result


def fishers(out, ds):
    fs = []
    for k, d in enumerate(ds):
        g = torch.Generator().manual_seed(200 + k)
        f = {n: torch.exp(torch.randn(t.shape, generator=g, dtype=torch.float64)).float() for n, t in sorted(d.items())}
        save_file({n: t.contiguous() for n, t in f.items()}, os.path.join(out, f"sub-{k}", "fisher.safetensors"))
        fs.append({n: t.double() for n, t in f.items()})
    return fs


def interp(values, t):
    if len(values) == 1:
        return values[0]
    scaled = t * (len(values) - 1)
    i0 = int(scaled)
    i1 = min(len(values) - 1, i0 + 1)
    frac = scaled - i0
    return (1 - frac) * values[i0] + frac * values[i1]


def parse_weights(text):
    return [[float(v) for v in item.split(":")] for item in text.split(",")]


def weights_at(case, name, layers):
    module = name[: -len(".weight")]
    t = 0.0
    parts = module.split(".")
    if "layers" in parts:
        layer = int(parts[parts.index("layers") + 1])
        t = layer / (layers - 1) if layers > 1 else 1.0
    ws = parse_weights(case["weights"])
    for regex, wtext in case.get("overrides", []):
        import re
        if re.search(regex, module):
            ws = parse_weights(wtext)
            break
    return [interp(w, t) for w in ws]


def merge_tensor(case, name, ds, fs, base_w, layers):
    idx = case["adapters"]
    w = weights_at(case, name, layers)
    dl = [ds[i].get(name) for i in idx]
    zeros = torch.zeros_like(base_w, dtype=torch.float64)
    method = case["method"]
    if all(x is None for x in dl):
        return None
    if method in ("linear", "task-arithmetic"):
        normalize = case.get("normalize", method == "linear")
        c = [x / sum(w) for x in w] if normalize else w
        lam = case.get("lambda", 1.0) if method == "task-arithmetic" else 1.0
        return lam * sum(ci * (d if d is not None else zeros) for ci, d in zip(c, dl))
    if method == "lora-param-average":
        c = [x / sum(w) for x in w]
        A = B = None
        s = None
        for ci, i in zip(c, idx):
            cfg = ADAPTERS[i]
            mod = name[: -len(".weight")]
            if ds[i].get(name) is None:
                continue
            a, b = lora_ab(i, mod)
            s = cfg["lora_alpha"] / (math.sqrt(cfg["r"]) if cfg.get("use_rslora") else cfg["r"])
            A = ci * a if A is None else A + ci * a
            B = ci * b if B is None else B + ci * b
        return s * B @ A
    if method == "ties":
        dens = case["density"]
        trimmed = []
        for d in dl:
            d = d if d is not None else zeros
            k = max(1, int(dens * d.numel()))
            keep = torch.zeros(d.numel(), dtype=torch.float64)
            keep[torch.argsort(d.abs().reshape(-1), descending=True)[:k]] = 1
            trimmed.append(d * keep.reshape(d.shape) if d.abs().sum() > 0 else zeros)
        x = torch.stack([wi * t for wi, t in zip(w, trimmed)])
        sign = (x.sum(0) >= 0).double() * 2 - 1
        mask = (x.sign() == sign)
        div = (torch.tensor(w, dtype=torch.float64).reshape(-1, 1, 1) * mask).sum(0)
        div[div == 0] = 1
        return case.get("lambda", 1.0) * (x * mask).sum(0) / div
    if method == "fisher":
        num = torch.zeros_like(zeros)
        den = torch.zeros_like(zeros)
        for wi, i, d in zip(w, idx, dl):
            f = fs[i].get(name)
            if f is None:
                continue
            num += wi * f * (d if d is not None else zeros)
            den += wi * f
        return num / den
    if method == "slerp":
        v0, v1 = [(d if d is not None else zeros) for d in dl]
        t = w[1] / (w[0] + w[1])
        n0, n1 = v0.norm(), v1.norm()
        n0 = n0 if n0 > 1e-8 else 1.0
        n1 = n1 if n1 > 1e-8 else 1.0
        dot = ((v0 / n0) * (v1 / n1)).sum().clamp(-1, 1)
        if dot.abs() > 0.9995:
            return (1 - t) * v0 + t * v1
        th = torch.acos(dot)
        return torch.sin((1 - t) * th) / torch.sin(th) * v0 + torch.sin(t * th) / torch.sin(th) * v1
    raise ValueError(method)


_AB = {}


def lora_ab(i, module):
    from safetensors.torch import load_file
    if i not in _AB:
        _AB[i] = load_file(os.path.join(OUT, f"sub-{i}", "adapter_model.safetensors"))
    t = _AB[i]
    return (t[f"base_model.model.{module}.lora_A.weight"].double(), t[f"base_model.model.{module}.lora_B.weight"].double())


CASES = [
    dict(name="linear", method="linear", adapters=[0, 1, 2], weights="1,2,1"),
    dict(name="linear-gradient-override", method="linear", adapters=[0, 1, 2], weights="1:0,0:1,1", normalize=False,
         overrides=[[r"down_proj", "0,0,1"]]),
    dict(name="task-arithmetic", method="task-arithmetic", adapters=[0, 1, 2], weights="1,0.5,-0.5", **{"lambda": 0.7}),
    dict(name="lora-param-average", method="lora-param-average", adapters=[0, 2], weights="0.6,0.4"),
    dict(name="ties", method="ties", adapters=[0, 1, 2], weights="0.5,0.3,0.2", density=0.5),
    dict(name="fisher", method="fisher", adapters=[0, 1, 2], weights="1,1,2"),
    dict(name="slerp", method="slerp", adapters=[0, 1], weights="0.3,0.7"),
]

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "tests", "fixtures", "merge-tiny")


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    make_adapters(OUT)
    ds = deltas(OUT)
    fs = fishers(OUT, ds)
    base = load_base()
    sd = {k: v.detach().clone() for k, v in base.state_dict().items()}
    layers = base.config.num_hidden_layers
    ref = {"input_ids": IDS, "base": "tiny-llama", "torch": torch.__version__, "cases": []}
    for case in CASES:
        m = load_base()
        new = dict(sd)
        for name, w in sd.items():
            d = merge_tensor(case, name, ds, fs, w, layers)
            if d is not None:
                new[name] = (w.double() + d).float()
        m.load_state_dict(new)
        with torch.no_grad():
            logits = m(torch.tensor([IDS])).logits[0]
        entry = {k: v for k, v in case.items()}
        entry["logits"] = logits.tolist()
        ref["cases"].append(entry)
        print(case["name"], float(logits.abs().mean()))
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f)
        f.write("\n")


if __name__ == "__main__":
    main()
