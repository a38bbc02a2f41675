#!/usr/bin/env bash
# Learning meets theory: train on the exact expected risk (L-BFGS, deterministic) and compare
# the trained model's exact population risk with the theory optimum, for the constant and
# i.i.d. models at n = 50. Usage: scripts/learn_vs_theory.sh [path/to/varlearn] [extra train flags]
# Prints a markdown table; ratio = population_risk / optimal_risk (target <= 1.02 for even N
# and bilevel). Odd N (3, 5) rows report what training reaches (no target: the optimum there
# is often an infimum approached only as omega -> 0+ with ||R|| -> infinity).
set -euo pipefail
V=${1:-./build-learn/varlearn}
shift || true
EXTRA=("$@")
N_DIM=${N_DIM:-50}
MU=${MU:-1}; THETA=${THETA:-0.5}; SIGMA=${SIGMA:-0.9}
echo "| data | method | k | N | train_loss | population_risk | optimal_risk | ratio | stepsize | status | s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
row() {  # data method k depth
  local extra=()
  [[ $2 == unrolled ]] && extra=(--depth "$4" --stepsize learned)
  "$V" train --data "$1" --n "$N_DIM" --k "$3" --mu "$MU" --theta "$THETA" --sigma "$SIGMA" \
    --method "$2" "${extra[@]}" --objective expected --seed 1 --json ${EXTRA[@]+"${EXTRA[@]}"} |
    python3 -c '
import json, sys
j = json.load(sys.stdin)
st = j.get("stepsize")
print("| %s | %s | %d | %s | %.6g | %.6g | %.6g | %.5f | %s | %s | %.1f |" % (j["data"], j["method"], j["k"],
      j.get("depth", "-"), j["train_loss"], j["population_risk"], j["optimal_risk"], j["risk_ratio"],
      "-" if st is None else "%.4g" % st, j["status"], j["seconds"]))'
}
for data in constant iid; do
  for k in 1 10 50; do
    row $data bilevel $k 0
    for depth in 2 4 3 5; do row $data unrolled $k $depth; done
  done
done

# Odd depth: is the optimum a sharp minimum? Extreme Hessian eigenvalues of the expected risk
# at the trained model, from a random start and from the theory optimum (i.i.d., k = 10).
echo
echo "| data | k | N | init | ratio | stepsize | norm R | hessian_max_eig | hessian_min_eig |"
echo "|---|---|---|---|---|---|---|---|---|"
for depth in 2 3 5; do
  for init in random theory; do
    "$V" train --data iid --n "$N_DIM" --k 10 --mu "$MU" --theta "$THETA" --sigma "$SIGMA" --depth "$depth" \
      --objective expected --init $init --hessian --json ${EXTRA[@]+"${EXTRA[@]}"} 2>/dev/null |
      python3 -c '
import json, sys
j = json.load(sys.stdin)
print("| iid | %d | %d | %s | %.5f | %.4g | %.4g | %.4g | %.2e |" % (j["k"], j["depth"], sys.argv[1], j["risk_ratio"],
      j["stepsize"], j["regularizer_norm"], j["hessian_max_eig"], j["hessian_min_eig"]))' $init
  done
done
