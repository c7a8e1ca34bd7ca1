#!/usr/bin/env bash
# The main job on the embedded defaults, short: a look at the world; the machinery on two supervised trajectories
# (generate, distill, a few LoRA steps); then the claim: the committed student (results/fidelity/adapter.gguf)
# against its base on held-out test tasks of a world no training episode came from, with paired differences.
# Every stage resumes: rerun the same command after an interruption.
#
#   examples/demo.sh SHOPGYM OUT_DIR   (DEMO_TASKS held-out tasks, default 10)
set -euo pipefail
shopgym=${1:-shopgym}
out=${2:-demo-out}
DEMO_TASKS=${DEMO_TASKS:-10}
LORA_STEPS=${LORA_STEPS:-3}
WORKERS=${WORKERS:-2}
committed=$(cd "$(dirname "$0")/../results/fidelity" && pwd)

build() {  # seed, folder: build once (a rerun keeps the finished world)
  if [ ! -f "$2/catalog.db" ]; then "$shopgym" catalog build --seed "$1" --products 2000 --out "$2" --overwrite; fi
}

mkdir -p "$out"
echo "== 1/5 the training world (seed 7) and an evaluation world (seed 11), 2,000 products each =="
build 7 "$out/world-train"
build 11 "$out/world-eval"
"$shopgym" catalog stats "$out/world-train"
echo
echo "== search: noise cancelling headphones under \$150, cheapest first =="
"$shopgym" catalog search "$out/world-train" "noise cancelling headphones" --category headphones --max-price 150 \
  --spec noise_cancelling=true --sort price_asc
echo
echo "== a test-split shopper's observable history =="
"$shopgym" catalog history "$out/world-train" --split test
echo
echo "== 2/5 two supervised trajectories (User Agent, Research Agent on SmolLM2-135M, Supervisor) =="
"$shopgym" generate --catalog "$out/world-train" --split train --episodes 2 --seed 1000 --mode supervised \
  --out "$out/run"
"$shopgym" show "$out/run"
echo
echo "== 3/5 distill them (the machinery: every finished run that fits the student's context, whatever its reward) =="
"$shopgym" distill "$out/run" --out "$out/data" --min-reward 0 --filters completed,fits_context
echo
echo "== 4/5 $LORA_STEPS LoRA steps on that data (the machinery; a student worth evaluating takes \`make fidelity\`) =="
"$shopgym" train "$out/data" --out "$out/student" --max-steps "$LORA_STEPS" --grad-accum 1
echo
echo "== 5/5 the committed student against its base on $DEMO_TASKS held-out test tasks of the seed-11 world =="
graded_by=$(grep -o '"env_id": "[^"]*"' "$committed/manifest.json" | cut -d'"' -f4 || true)
echo "the committed student learned from runs graded by ${graded_by:-the retired v0 reward (its manifest names no env)}"
mkdir -p "$out/eval"
common=(--catalog "$out/world-eval" --split test --seed 1 --episodes "$DEMO_TASKS" --workers "$WORKERS")
"$shopgym" evaluate --policy llm "${common[@]}" --out "$out/eval/base-run" --save "$out/eval/base.json"
"$shopgym" evaluate --policy llm "${common[@]}" --adapter "$committed/adapter.gguf" --out "$out/eval/student-run" \
  --save "$out/eval/student.json"
"$shopgym" show "$out/eval/student-run"
"$shopgym" compare "$out/eval/base.json" "$out/eval/student.json" --diff student:base --out "$out/comparison"
cat "$out/comparison/comparison.md"
echo
echo "how it was trained: $committed/manifest.json; its full comparison (100 tasks): $committed/comparison.md"
echo "open $out/run/trajectories.html (the teacher's trajectories) and $out/eval/student-run/trajectories.html (the student's),"
echo "$out/comparison/comparison.png, and $out/student/loss.png"
