#!/usr/bin/env bash
# The main job on the embedded defaults, at a small stated scale (about 30 minutes on 2 cores after installation;
# 28.6 min measured on 2026-12-01):
# a look at the world, then the whole pipeline — generate, distill, train, evaluate base vs student.
set -euo pipefail
shopgym=${1:-shopgym}
out=${2:-demo-out}
world="$out/world-train"

mkdir -p "$out"
if [ ! -f "$world/catalog.db" ]; then "$shopgym" catalog build --seed 7 --products 2000 --out "$world" --overwrite; fi
echo
echo "== stats =="
"$shopgym" catalog stats "$world"
echo
echo "== search: noise cancelling headphones under \$150, cheapest first =="
"$shopgym" catalog search "$world" "noise cancelling headphones" --category headphones --max-price 150 \
  --spec noise_cancelling=true --sort price_asc
echo
echo "== a test-split shopper's observable history =="
"$shopgym" catalog history "$world" --split test
echo
echo "== the pipeline at demo scale: 12 supervised episodes -> distill -> 2 epochs of LoRA -> 5 held-out tasks =="
GEN_EPISODES=12 EPOCHS=2 EVAL_EPISODES=5 TEACHER_EPISODES=3 FREE_EPISODES=3 bash "$(dirname "$0")/pipeline.sh" "$shopgym" "$out"
"$shopgym" show "$out/run"
echo "open $out/run/trajectories.html to read the teacher's trajectories turn by turn"
echo "this scale shows the machinery, not the claim: \`make fidelity\` runs it at the scale the claim needs"
