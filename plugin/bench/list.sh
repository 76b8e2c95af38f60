#!/usr/bin/env bash
# Benchmarks `kubectl hooks list` against the local control plane and compares it with the
# equivalent helm loop (`helm get hooks` + `helm status -o json` per release).
#
# Usage: tests/cluster/with-cluster plugin/bench/list.sh [RUNS]
#
# Scenarios (namespaces are created and deleted by the script):
#   one release with 50 revisions   target: list ≤ 300 ms (design §8)
#   200 releases, 1 revision each   list (all releases of the namespace) vs. 200× helm
# Records are a real helm 4 record of tests/charts/hooks-demo copied under new names/labels
# (the payload is the real one), so no 50-upgrade loop is needed. Needs python3.
set -euo pipefail
[[ -n ${HELM_HOOKS_CLUSTER_DIR:-} ]] || { echo "run under tests/cluster/with-cluster" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
runs=${1:-10}
bin=$root/target/release/kubectl-hooks
[[ -x $bin ]] || (cd "$root" && cargo build --release -p kubectl-hooks >&2)
chart=$root/tests/charts/hooks-demo

ms() { echo $(($(date +%s%N) / 1000000)); }
# time_runs LABEL CMD...: runs CMD $runs times, prints median and max in ms
time_runs() {
  local label=$1; shift
  local t=() i s
  "$@" >/dev/null 2>&1 || { echo "$label: command failed: $*" >&2; "$@"; exit 1; }  # warm-up
  for ((i = 0; i < runs; i++)); do
    s=$(ms); "$@" >/dev/null 2>&1; t+=($(($(ms) - s)))
  done
  printf '%s\n' "${t[@]}" | sort -n | awk -v l="$label" '{a[NR]=$1} END {printf "%-58s median %5d ms   max %5d ms   (%d runs)\n", l, a[int((NR+1)/2)], a[NR], NR}'
}

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/copy.py" <<'PY'
import json, sys
ns, src = sys.argv[1], json.load(open(sys.argv[2]))
items = []
for line in sys.stdin:
    name, rev = line.split()
    labels = dict(src["metadata"]["labels"], name=name, version=rev, status="superseded")
    items.append({"apiVersion": "v1", "kind": "Secret", "type": src["type"],
                  "metadata": {"name": f"sh.helm.release.v1.{name}.v{rev}", "namespace": ns, "labels": labels},
                  "data": src["data"]})
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
PY
# copy_records NS SOURCE_SECRET_JSON: stdin lines "RELEASE REVISION" → Secrets
copy_records() { python3 "$tmp/copy.py" "$1" "$2" | kubectl apply --server-side -f - >/dev/null; }

echo "== one release with 50 revisions"
ns=bench-revisions
kubectl create namespace $ns >/dev/null
helm -n $ns install demo "$chart" --timeout 60s >/dev/null
kubectl -n $ns get secret sh.helm.release.v1.demo.v1 -o json >"$tmp/rec.json"
seq 2 50 | sed 's/^/demo /' | copy_records $ns "$tmp/rec.json"
kubectl -n $ns label secret sh.helm.release.v1.demo.v50 status=deployed --overwrite >/dev/null
echo "records: $(kubectl -n $ns get secrets -l owner=helm,name=demo -o name | wc -l)"
time_runs "kubectl hooks list demo (50 revisions)" "$bin" -n $ns list demo
time_runs "kubectl hooks list demo -o json (50 revisions)" "$bin" -n $ns list demo -o json
time_runs "helm get hooks + helm status -o json (50 revisions)" \
  bash -c "helm -n $ns get hooks demo && helm -n $ns status demo -o json"

echo "== 200 releases"
ns=bench-releases
kubectl create namespace $ns >/dev/null
seq 1 200 | sed 's/^/rel-/; s/$/ 1/' | copy_records $ns "$tmp/rec.json"
echo "records: $(kubectl -n $ns get secrets -l owner=helm -o name | wc -l)"
time_runs "kubectl hooks list (200 releases)" "$bin" -n $ns list
runs_saved=$runs; runs=3
time_runs "helm get hooks + helm status -o json, 200 releases" bash -c "
  for i in \$(seq 1 200); do helm -n $ns get hooks rel-\$i >/dev/null && helm -n $ns status rel-\$i -o json >/dev/null; done"
runs=$runs_saved

kubectl delete namespace bench-revisions bench-releases --wait=false >/dev/null
