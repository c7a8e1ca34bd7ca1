#!/usr/bin/env bash
# The main job as far as it exists: build a small world, show its stats, a search and one shopper, then
# evaluate the baseline policies in the env.
set -euo pipefail
shopgym=${1:-shopgym}
out=${2:-demo-out}
world="$out/world"

"$shopgym" catalog build --seed 7 --products 2000 --out "$world" --overwrite
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
echo "== baselines on 20 distinct test tasks (reward in [0, 1], graded against the hidden truth) =="
for policy in oracle heuristic random; do
  "$shopgym" evaluate --policy "$policy" --catalog "$world" --split test --episodes 20 --seed 1
done
echo
echo "== two supervised trajectories with the embedded SmolLM2-135M (User, Research and Supervisor agents) =="
"$shopgym" generate --catalog "$world" --split train --episodes 2 --seed 0 --out "$out/run" --mode supervised
"$shopgym" show "$out/run"
echo "open $out/run/trajectories.html to read the trajectories turn by turn"
echo
echo "== distill the run into single-role training examples =="
"$shopgym" distill "$out/run" --out "$out/data" --min-reward 0
echo "dataset card: $out/data/README.md, reward histograms: $out/data/rewards.png"
