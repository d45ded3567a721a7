"""peft_adapter_check.py BASE ADAPTER OUT_JSON: logits of BASE with a DTM Studio adapter loaded by PEFT.

Loads the base with transformers (an HF folder, or a .gguf file de-quantised to f32), applies the
adapter with `PeftModel.from_pretrained`, and writes the logits for fixed token ids. The Rust test
tests/integration/peft_parity.rs compares them with DTM Studio's own forward pass with the same
adapter (defaults: tests/fixtures/tiny-llama + tests/fixtures/tiny-llama-adapter).
"""
import json, os, sys
import torch
from transformers import AutoModelForCausalLM
from peft import PeftModel

base = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/tiny-llama"
adapter = sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/tiny-llama-adapter"
out = sys.argv[3] if len(sys.argv) > 3 else os.path.join(adapter, "peft_logits.json")
torch.set_num_threads(1)
if base.endswith(".gguf"):
    m = AutoModelForCausalLM.from_pretrained(os.path.dirname(base), gguf_file=os.path.basename(base), dtype=torch.float32)
else:
    m = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
m = PeftModel.from_pretrained(m, adapter).eval()
ids = [[5, 17, 42, 99, 3, 250, 7, 61, 128, 33]]
with torch.no_grad():
    logits = m(input_ids=torch.tensor(ids)).logits[0]
with torch.no_grad(), m.disable_adapter():
    plain = m(input_ids=torch.tensor(ids)).logits[0]
json.dump({"input_ids": ids, "logits": logits.tolist(), "adapter_effect": float((logits - plain).abs().max())}, open(out, "w"))
print(json.dumps({"out": out, "adapter_effect": float((logits - plain).abs().max())}))
