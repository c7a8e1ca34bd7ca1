#!/usr/bin/env bash
# Improve past SFT with the verifiable reward: one round of expert iteration on the folder examples/pipeline.sh wrote.
#  1. the SFT student samples K attempts at each of IMPROVE_TASKS train tasks of the training world, at TEMPERATURE;
#  2. its attempts and the teacher's runs go through the distillation filters (the student's runs are not reviewed,
#     so that filter is off), and of each task only the highest-reward run at or above MIN_REWARD is kept;
#  3. a student is trained again from the base on that data;
#  4. it is evaluated beside the SFT student on the same held-out test tasks, with paired differences.
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
WORKERS=${WORKERS:-2}
TRAIN_ARGS=${TRAIN_ARGS:-}
FILTERS=completed,no_invalid_action,tool_error_rate,min_tool_calls,substantive_report,min_reward,followed_injection
FILTERS=$FILTERS,duplicate,fits_context,within_decoding_caps

for needed in "$out/run" "$out/student/adapter.gguf" "$out/world-train/catalog.db" "$out/world-eval/catalog.db" \
              "$out/eval/student.json"; do
  if [ ! -e "$needed" ]; then echo "improve: $needed is missing: run examples/pipeline.sh on $out first" >&2; exit 2; fi
done
mkdir -p "$out/improve"

echo "== 1/4 the SFT student samples $K attempts at each of $IMPROVE_TASKS train tasks (T = $TEMPERATURE) =="
"$shopgym" evaluate --policy llm --adapter "$out/student/adapter.gguf" --catalog "$out/world-train" --split train \
  --episodes "$IMPROVE_TASKS" --trials "$K" --temperature "$TEMPERATURE" --seed "$IMPROVE_SEED" --workers "$WORKERS" \
  --out "$out/improve/samples" --save "$out/improve/samples.json"

echo "== 2/4 keep the best run of each task (reward >= $MIN_REWARD), the teacher's runs included =="
"$shopgym" distill "$out/run" "$out/improve/samples" --out "$out/improve/data" --min-reward "$MIN_REWARD" \
  --filters "$FILTERS" --best-per-task

echo "== 3/4 train the improved student from the base ($EPOCHS epochs) =="
# shellcheck disable=SC2086
"$shopgym" train "$out/improve/data" --out "$out/improved" --epochs "$EPOCHS" $TRAIN_ARGS

echo "== 4/4 evaluate it on the SFT student's $EVAL_EPISODES held-out test tasks and compare =="
"$shopgym" evaluate --policy llm --adapter "$out/improved/adapter.gguf" --catalog "$out/world-eval" --split test \
  --episodes "$EVAL_EPISODES" --seed "$EVAL_SEED" --workers "$WORKERS" --out "$out/eval/improved-run" \
  --save "$out/eval/improved.json"
"$shopgym" compare "$out/eval/base.json" "$out/eval/student.json" "$out/eval/improved.json" \
  --diff improved:student --diff student:base --out "$out/comparison-improved"
echo "comparison: $out/comparison-improved/comparison.md; samples' rewards: $out/improve/samples.json"
