#!/usr/bin/env bash
# The whole pipeline on the embedded defaults: build a training world, generate supervised trajectories, distill,
# LoRA-train a student, then evaluate base, student, teacher and the baselines on held-out test tasks of a world
# the student never saw, and compare them. Every stage resumes: rerun the same command after an interruption.
#
#   examples/pipeline.sh SHOPGYM OUT_DIR   (scale from the environment; defaults are the demo's)
set -euo pipefail
shopgym=${1:-shopgym}
out=${2:-pipeline-out}
TRAIN_WORLD_SEED=${TRAIN_WORLD_SEED:-7}
EVAL_WORLD_SEED=${EVAL_WORLD_SEED:-11}
PRODUCTS=${PRODUCTS:-2000}
GEN_EPISODES=${GEN_EPISODES:-12}
GEN_SEED=${GEN_SEED:-1000}
MIN_REWARD=${MIN_REWARD:-0.4}
EPOCHS=${EPOCHS:-2}
EVAL_EPISODES=${EVAL_EPISODES:-8}
TEACHER_EPISODES=${TEACHER_EPISODES:-$EVAL_EPISODES}
FREE_EPISODES=${FREE_EPISODES:-$EVAL_EPISODES}  # tasks for the grammar-off validity rows
EVAL_SEED=${EVAL_SEED:-1}
WORKERS=${WORKERS:-2}  # llama.cpp processes, threads split between them (1.37x the episodes/hour of 1 on 2 cores)
TRAIN_ARGS=${TRAIN_ARGS:-}

build() {  # seed, folder: build once (a rerun keeps the finished world)
  if [ ! -f "$2/catalog.db" ]; then "$shopgym" catalog build --seed "$1" --products "$PRODUCTS" --out "$2" --overwrite; fi
}

mkdir -p "$out"
cat > "$out/pipeline.json" <<JSON
{"train_world_seed": $TRAIN_WORLD_SEED, "eval_world_seed": $EVAL_WORLD_SEED, "products": $PRODUCTS,
 "gen_episodes": $GEN_EPISODES, "gen_seed": $GEN_SEED, "min_reward": $MIN_REWARD, "epochs": $EPOCHS,
 "eval_episodes": $EVAL_EPISODES, "teacher_episodes": $TEACHER_EPISODES, "free_episodes": $FREE_EPISODES,
 "eval_seed": $EVAL_SEED,
 "train_args": "$TRAIN_ARGS"}
JSON

echo "== 1/6 worlds: training world seed $TRAIN_WORLD_SEED, evaluation world seed $EVAL_WORLD_SEED ($PRODUCTS products) =="
build "$TRAIN_WORLD_SEED" "$out/world-train"
build "$EVAL_WORLD_SEED" "$out/world-eval"

echo "== 2/6 generate $GEN_EPISODES supervised trajectories (User Agent brief and Research Agent on SmolLM2-135M; rule-based Supervisor) =="
"$shopgym" generate --catalog "$out/world-train" --split train --episodes "$GEN_EPISODES" --seed "$GEN_SEED" \
  --mode supervised --workers "$WORKERS" --out "$out/run"

echo "== 3/6 distill (reward >= $MIN_REWARD) =="
"$shopgym" distill "$out/run" --out "$out/data" --min-reward "$MIN_REWARD"

echo "== 4/6 train the LoRA student ($EPOCHS epochs) =="
# shellcheck disable=SC2086
"$shopgym" train "$out/data" --out "$out/student" --epochs "$EPOCHS" $TRAIN_ARGS

echo "== 5/6 evaluate on $EVAL_EPISODES held-out test tasks of the evaluation world (seed $EVAL_SEED) =="
mkdir -p "$out/eval"
common=(--catalog "$out/world-eval" --split test --seed "$EVAL_SEED")
speed=(--workers "$WORKERS")
"$shopgym" evaluate --policy heuristic "${common[@]}" --episodes "$EVAL_EPISODES" --save "$out/eval/heuristic.json"
"$shopgym" evaluate --policy shallow "${common[@]}" --episodes "$EVAL_EPISODES" --save "$out/eval/shallow.json"
"$shopgym" evaluate --policy random "${common[@]}" --episodes "$EVAL_EPISODES" --save "$out/eval/random.json"
"$shopgym" evaluate --policy llm "${common[@]}" "${speed[@]}" --episodes "$EVAL_EPISODES" --out "$out/eval/base-run" \
  --save "$out/eval/base.json"
"$shopgym" evaluate --policy llm "${common[@]}" "${speed[@]}" --episodes "$EVAL_EPISODES" --adapter "$out/student/adapter.gguf" \
  --out "$out/eval/student-run" --save "$out/eval/student.json"
for who in base student; do  # tool-call validity with the grammar off (an invalid call ends the research)
  adapter=(); if [ "$who" = student ]; then adapter=(--adapter "$out/student/adapter.gguf"); fi
  "$shopgym" evaluate --policy llm "${common[@]}" "${speed[@]}" --episodes "$FREE_EPISODES" "${adapter[@]}" --no-grammar \
    --out "$out/eval/$who-free-run" --save "$out/eval/$who-no-grammar.json"
done
"$shopgym" evaluate --policy teacher "${common[@]}" "${speed[@]}" --episodes "$TEACHER_EPISODES" --out "$out/eval/teacher-run" \
  --save "$out/eval/teacher.json"

echo "== 6/6 compare =="
"$shopgym" compare "$out/eval/base.json" "$out/eval/student.json" "$out/eval/base-no-grammar.json" \
  "$out/eval/student-no-grammar.json" "$out/eval/teacher.json" "$out/eval/heuristic.json" "$out/eval/shallow.json" \
  "$out/eval/random.json" \
  --diff student:base --teacher teacher --out "$out/comparison"
echo "loss curve: $out/student/loss.png; comparison: $out/comparison/comparison.md and comparison.png"
