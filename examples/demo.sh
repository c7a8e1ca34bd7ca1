#!/usr/bin/env bash
# The main job on the embedded defaults, short: a look at the world; the machinery on one supervised trajectory
# (generate, distill, a few LoRA steps); then the claim: the committed student (results/fidelity/adapter.gguf) runs
# on held-out test tasks of a world no training episode came from, beside its base and the teacher on the same tasks
# as `make fidelity` recorded them (results/fidelity/stages/eval), with paired differences.
# Every stage resumes: rerun the same command after an interruption.
#
#   examples/demo.sh SHOPGYM OUT_DIR   (DEMO_TASKS held-out tasks, default 10)
set -euo pipefail
shopgym=${1:-shopgym}
out=${2:-demo-out}
DEMO_TASKS=${DEMO_TASKS:-10}
LORA_STEPS=${LORA_STEPS:-2}
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
echo "== 2/5 one supervised trajectory (User Agent, Research Agent on SmolLM2-135M, rule-based Supervisor) =="
"$shopgym" generate --catalog "$out/world-train" --split train --episodes 1 --seed 1000 --mode supervised \
  --out "$out/run"
"$shopgym" show "$out/run"
echo
echo "== 3/5 distill it (the machinery: a finished run that fits the student's context, whatever its reward) =="
"$shopgym" distill "$out/run" --out "$out/data" --min-reward 0 --filters completed,fits_context
echo
echo "== 4/5 $LORA_STEPS LoRA steps on that data (the machinery; a student worth evaluating takes \`make fidelity\`) =="
"$shopgym" train "$out/data" --out "$out/student" --max-steps "$LORA_STEPS" --grad-accum 1
echo
echo "== 5/5 the committed student on $DEMO_TASKS held-out tasks of the seed-11 world, beside base and teacher =="
graded_by=$(grep -o '"env_id": "[^"]*"' "$committed/manifest.json" | cut -d'"' -f4 || true)
echo "the committed student learned from runs graded by ${graded_by:-the retired v0 reward (its manifest names no env)}"
mkdir -p "$out/eval"
"$shopgym" evaluate --policy llm --catalog "$out/world-eval" --split test --seed 1 --episodes "$DEMO_TASKS" \
  --workers "$WORKERS" --adapter "$committed/adapter.gguf" --out "$out/eval/student-run" --save "$out/eval/student.json"
"$shopgym" show "$out/eval/student-run"
# base, teacher and the student itself as `make fidelity` recorded them on the same tasks and seeds (greedy decoding)
for recorded in base teacher student; do
  cp "$committed/stages/eval/$recorded.json" "$out/eval/$recorded-recorded.json"
done
"$shopgym" compare "$out/eval/base-recorded.json" "$out/eval/student.json" "$out/eval/student-recorded.json" \
  "$out/eval/teacher-recorded.json" --shared --diff student:base-recorded --teacher teacher-recorded \
  --out "$out/comparison"
echo
echo "student ran now; the *-recorded rows are the records of \`make fidelity\` on the same $DEMO_TASKS tasks (its full"
echo "comparison, 100 tasks: $committed/comparison.md; how it was trained: $committed/manifest.json)."
echo "to run the base here too: $shopgym evaluate --policy llm --catalog $out/world-eval --split test --seed 1 \\"
echo "  --episodes $DEMO_TASKS --workers $WORKERS --out $out/eval/base-run --save $out/eval/base.json"
echo "open $out/run/trajectories.html (the teacher's trajectory), $out/eval/student-run/trajectories.html"
echo "(the student's episodes), $out/comparison/comparison.png and $out/student/loss.png"
