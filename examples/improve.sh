#!/usr/bin/env bash
# Improve past SFT with the verifiable reward: one round of expert iteration on the folder examples/pipeline.sh wrote.
#  1. the SFT student samples K attempts at each of IMPROVE_TASKS train tasks of the training world, at TEMPERATURE;
#  2. its attempts and the teacher's runs go through the distillation filters (the student's runs are not reviewed,
#     so that filter is off), and of each task only the highest-reward run at or above MIN_REWARD is kept;
#  3. a student is trained again from the base on that data;
#  4. it is evaluated beside the SFT student on the same held-out test tasks, with paired differences;
#  5. base, SFT student and improved student each run K times at TEMPERATURE on PASSK_TASKS of those tasks, for
#     pass^K (every run a success) and the flip rate (the share of tasks whose runs disagree).
# Every stage resumes: rerun the same command after an interruption.
#
#   examples/improve.sh SHOPGYM OUT_DIR   (scale from the environment; defaults are the demo's)
set -euo pipefail
shopgym=${1:-shopgym}
out=${2:-pipeline-out}
IMPROVE_TASKS=${IMPROVE_TASKS:-12}
K=${K:-4}
TEMPERATURE=${TEMPERATURE:-0.7}
IMPROVE_SEED=${IMPROVE_SEED:-5000}
MIN_REWARD=${MIN_REWARD:-0.4}
EPOCHS=${EPOCHS:-2}
EVAL_EPISODES=${EVAL_EPISODES:-8}
EVAL_SEED=${EVAL_SEED:-1}
PASSK_TASKS=${PASSK_TASKS:-$EVAL_EPISODES}
WORKERS=${WORKERS:-2}
TRAIN_ARGS=${TRAIN_ARGS:-}
FILTERS=completed,no_invalid_action,tool_error_rate,min_tool_calls,substantive_report,min_reward,followed_injection
FILTERS=$FILTERS,duplicate,fits_context,within_decoding_caps

for needed in "$out/run" "$out/student/adapter.gguf" "$out/world-train/catalog.db" "$out/world-eval/catalog.db" \
              "$out/eval/student.json"; do
  if [ ! -e "$needed" ]; then echo "improve: $needed is missing: run examples/pipeline.sh on $out first" >&2; exit 2; fi
done
mkdir -p "$out/improve"

echo "== 1/5 the SFT student samples $K attempts at each of $IMPROVE_TASKS train tasks (T = $TEMPERATURE) =="
"$shopgym" evaluate --policy llm --adapter "$out/student/adapter.gguf" --catalog "$out/world-train" --split train \
  --episodes "$IMPROVE_TASKS" --trials "$K" --temperature "$TEMPERATURE" --seed "$IMPROVE_SEED" --workers "$WORKERS" \
  --out "$out/improve/samples" --save "$out/improve/samples.json"

echo "== 2/5 keep the best run of each task (reward >= $MIN_REWARD), the teacher's runs included =="
"$shopgym" distill "$out/run" "$out/improve/samples" --out "$out/improve/data" --min-reward "$MIN_REWARD" \
  --filters "$FILTERS" --best-per-task

echo "== 3/5 train the improved student from the base ($EPOCHS epochs) =="
# shellcheck disable=SC2086
"$shopgym" train "$out/improve/data" --out "$out/improved" --epochs "$EPOCHS" $TRAIN_ARGS

echo "== 4/5 evaluate it on the SFT student's $EVAL_EPISODES held-out test tasks =="
held_out=(--catalog "$out/world-eval" --split test --seed "$EVAL_SEED" --workers "$WORKERS")
"$shopgym" evaluate --policy llm --adapter "$out/improved/adapter.gguf" "${held_out[@]}" --episodes "$EVAL_EPISODES" \
  --out "$out/eval/improved-run" --save "$out/eval/improved.json"

echo "== 5/5 pass^$K and the flip rate: base, SFT and improved students, $K runs on $PASSK_TASKS tasks (T = $TEMPERATURE) =="
for who in base student improved; do
  adapter=(); if [ "$who" != base ]; then adapter=(--adapter "$out/$who/adapter.gguf"); fi
  "$shopgym" evaluate --policy llm "${held_out[@]}" "${adapter[@]}" --episodes "$PASSK_TASKS" --trials "$K" \
    --temperature "$TEMPERATURE" --out "$out/eval/$who-pass$K-run" --save "$out/eval/$who-pass$K.json"
done
"$shopgym" compare "$out/eval/base.json" "$out/eval/student.json" "$out/eval/improved.json" \
  "$out/eval/base-pass$K.json" "$out/eval/student-pass$K.json" "$out/eval/improved-pass$K.json" \
  --diff improved:student --diff student:base --out "$out/comparison-improved"
echo "comparison: $out/comparison-improved/comparison.md; samples' rewards: $out/improve/samples.json"
