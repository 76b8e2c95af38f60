# Shared by tests/cluster/build and tests/cluster/with-cluster (sourced, not executed).
# Versions come from the wrapper modules' go.mod files, so bumping a version is one edit there
# (plus `go mod tidy`), and the binary cache is keyed by that version.

cluster_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${HELM_HOOKS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/helm-hooks}
bin_root=$cache_root/bin

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# required_version MODULE_DIR MODULE_PATH -> the version the wrapper's go.mod requires
required_version() {
  local v
  v=$(awk -v m="$2" '($1 == "require" && $2 == m) || ($1 == m) { print ($1 == "require" ? $3 : $2); exit }' \
    "$cluster_dir/go/$1/go.mod")
  [[ -n $v ]] || die "no version of $2 in $cluster_dir/go/$1/go.mod"
  printf '%s\n' "$v"
}

kube_version=$(required_version kube k8s.io/kubernetes)
etcd_version=$(required_version etcd go.etcd.io/etcd/server/v3)
kwok_version=$(required_version kwok sigs.k8s.io/kwok)
helm4_version=$(required_version helm4 helm.sh/helm/v4)
helm3_version=$(required_version helm3 helm.sh/helm/v3)

# Where each binary lives: $bin_root/<name>-<version>/<binary>
kube_bin=$bin_root/kubernetes-$kube_version
etcd_bin=$bin_root/etcd-$etcd_version
kwok_bin=$bin_root/kwok-$kwok_version
helm4_bin=$bin_root/helm-$helm4_version
helm3_bin=$bin_root/helm3-$helm3_version

# cert-manager's Issuer and Certificate CRDs (YAML, not built), for the server-side dry run of
# deploy/overlays/cert-manager. Taken from cert-manager's Go module, whose hash is pinned here.
cert_manager_version=v1.21.2
cert_manager_sum=h1:UWgoYM+KLNtRlqmoWOKjKBOBUPVHeepQ6/ac3ERJW68=
cert_manager_crds=$bin_root/cert-manager-crds-$cert_manager_version

# Public charts for e2e/tests/public_charts.rs, copied out of the Go modules that ship them
# (the module hash pinned here, as for the CRDs above): name, module, version, h1: hash, the
# chart's directory inside the module. The Go module proxy serves ingress-nginx only as a
# pseudo-version (its chart 4.11.0, controller v1.11.0); cert-manager reuses the module above.
public_charts=(
  "ingress-nginx k8s.io/ingress-nginx v0.0.0-20240708192948-52c50467d67d h1:tZui5g6S4GO1hxLm6yrEoIXLkl4QfeGytlmZqZ+DmdQ= charts/ingress-nginx"
  "cert-manager github.com/cert-manager/cert-manager $cert_manager_version $cert_manager_sum deploy/charts/cert-manager"
  "kyverno github.com/kyverno/kyverno v1.19.1 h1:/MkgFii3/VlQfKR1JpC9tVwNNVNQTt2S4U6qCsafsTU= charts/kyverno"
  "gatekeeper github.com/open-policy-agent/gatekeeper/v3 v3.23.1 h1:njHTm0SJ6ZEhhEgmQTpJKTGQbc99fSs4hGiEp1OIKck= charts/gatekeeper"
)
# public_chart_dir NAME VERSION -> where build puts that chart
public_chart_dir() { printf '%s\n' "$bin_root/chart-$1-$2"; }
