# Kyverno run out of cluster for bench/peers/run (sourced, not executed).
#   kyverno_prepare WORK  (inside with-cluster) installs Kyverno's CRDs, its namespace and the
#                         ConfigMaps it reads, and picks its webhook port into WORK/kyverno-port
#   kyverno_args WORK     the --kyverno-arg/--kyverno-env options of peers.py
# Kyverno registers its own webhook configurations with url https://127.0.0.1:PORT/...
# (--serverIP) and a CA it makes itself (kept in Secrets in its namespace). Its webhooks see only
# namespaces labelled bench.helm-hooks.io/kyverno=on (the `webhooks` key of its ConfigMap), so
# the other configurations of the bench are measured without it.

kyverno_prepare() {
  local work=$1 crds
  crds=$(dirname "$PEERS_KYVERNO")/crds
  [[ -d $crds ]] || { echo "peers: no Kyverno CRDs in $crds (bench/peers/build-kyverno)" >&2; return 1; }
  kubectl apply --server-side -f "$crds" >"$work/kyverno-crds.log" || return 1
  # A CRD just created may have no conditions yet, which kubectl wait reports as an error.
  local i
  for ((i = 0; i < 60; i++)); do
    kubectl wait --for condition=established --timeout=30s crd --all >>"$work/kyverno-crds.log" 2>&1 && break
    sleep 0.5
  done
  ((i < 60)) || { echo "peers: Kyverno's CRDs were not established" >&2; return 1; }
  kubectl create namespace kyverno >/dev/null
  kubectl -n kyverno create configmap kyverno-metrics >/dev/null
  kubectl -n kyverno create configmap kyverno \
    --from-literal=webhooks='{"namespaceSelector":{"matchLabels":{"bench.helm-hooks.io/kyverno":"on"}}}' \
    --from-literal=resourceFilters='[Event,*,*][*/*,kube-system,*][*/*,kyverno,*]' >/dev/null
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
    >"$work/kyverno-port"
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
    >"$work/kyverno-metrics-port"
}

kyverno_args() {
  local port
  port=$(<"$1/kyverno-port")
  local a
  for a in --kubeconfig="$KUBECONFIG" --serverIP="127.0.0.1:$port" --webhookServerHost=127.0.0.1 \
    --webhookServerPort="$port" --disableMetrics=true --controllerRuntimeMetricsAddress=0 \
    --admissionReports=false --autoMemLimitEnabled=false --loggingFormat=text --disableLogColor=true \
    --caSecretName=kyverno-svc.kyverno.svc.kyverno-tls-ca --tlsSecretName=kyverno-svc.kyverno.svc.kyverno-tls-pair \
    --backgroundServiceAccountName=system:serviceaccount:kyverno:kyverno-background-controller \
    --reportsServiceAccountName=system:serviceaccount:kyverno:kyverno-reports-controller \
    --metricsPort="$(<"$1/kyverno-metrics-port")" --profile=false --v=1; do
    printf -- '--kyverno-arg=%s\n' "$a"
  done
  printf -- '--kyverno-env=%s\n' KYVERNO_NAMESPACE=kyverno KYVERNO_SERVICEACCOUNT_NAME=kyverno \
    KYVERNO_DEPLOYMENT=kyverno KYVERNO_POD_NAME=kyverno-bench INIT_CONFIG=kyverno METRICS_CONFIG=kyverno-metrics
}
