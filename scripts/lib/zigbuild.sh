#!/usr/bin/env bash
# Sourced by scripts/release-plugin and scripts/release-image: the cross-build toolchain that
# both use. zig (PyPI's ziglang) and cargo-zigbuild in a venv act as the linker and C compiler
# for every target, so static musl binaries for linux amd64 and arm64 (and the plugin's darwin
# and windows ones) build on any Linux machine with only rustup and python3.
#
#   zigbuild_setup TARGET...          installs what is missing, exports PATH and CARGO_TARGET_DIR
#   zigbuild PACKAGE TARGET [ARGS...] cargo zigbuild --locked --release -p PACKAGE --target TARGET
#
# Everything lives in $HELM_HOOKS_CACHE (default ~/.cache/helm-hooks): the venv, zig's own cache,
# and the cargo target dir release-target, which is never the workspace's target/ (no lock
# contention with cargo test) and is shared by both release scripts.

zigbuild_zig_version=0.17.0     # ziglang on PyPI
zigbuild_cargo_zigbuild=0.24.0  # cargo-zigbuild on PyPI
# C code in the binaries may embed its build time (mimalloc prints __DATE__ __TIME__ in its
# options banner); zig's clang takes both from SOURCE_DATE_EPOCH, fixed here (1980-01-01) so that
# the same sources give the same binary whenever they are built.
zigbuild_epoch=315532800

# Sets zigbuild_cache (absolute) and exports CARGO_TARGET_DIR; installs the rust targets, zig and
# cargo-zigbuild when missing.
zigbuild_setup() {
  local tool target installed venv stamp
  local missing=()
  for tool in cargo rustup python3; do
    command -v "$tool" >/dev/null || {
      echo "zigbuild: $tool is not installed" >&2
      return 2
    }
  done
  zigbuild_cache=${HELM_HOOKS_CACHE:-$HOME/.cache/helm-hooks}
  mkdir -p "$zigbuild_cache"
  zigbuild_cache=$(cd "$zigbuild_cache" && pwd)
  export CARGO_TARGET_DIR=$zigbuild_cache/release-target
  # Objects compiled before the fixed epoch carry their build time, and neither cargo nor zig's
  # cache recompiles a C object when SOURCE_DATE_EPOCH changes: start both afresh, once.
  if [[ ! -e $CARGO_TARGET_DIR/.source-date-epoch-$zigbuild_epoch ]]; then
    rm -rf "$CARGO_TARGET_DIR" "$zigbuild_cache/xdg"
    mkdir -p "$CARGO_TARGET_DIR"
    touch "$CARGO_TARGET_DIR/.source-date-epoch-$zigbuild_epoch"
  fi

  echo "== tools: rust targets, zig $zigbuild_zig_version and cargo-zigbuild $zigbuild_cargo_zigbuild in $zigbuild_cache"
  installed=$(rustup target list --installed)
  for target in "$@"; do
    grep -qx "$target" <<<"$installed" || missing+=("$target")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    rustup target add "${missing[@]}"
  fi
  venv=$zigbuild_cache/release-venv
  stamp=$venv/.installed-$zigbuild_zig_version-$zigbuild_cargo_zigbuild
  if [[ ! -e $stamp ]]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
      "ziglang==$zigbuild_zig_version" "cargo-zigbuild==$zigbuild_cargo_zigbuild"
    touch "$stamp"
  fi
  # cargo-zigbuild runs `python3 -m ziglang` when there is no zig on PATH: the venv's python.
  export PATH=$venv/bin:$PATH
}

# Builds one package for one target at low priority (the machine is shared); the binary lands in
# $CARGO_TARGET_DIR/TARGET/release/.
zigbuild() {
  local package=$1 target=$2
  shift 2
  SOURCE_DATE_EPOCH=$zigbuild_epoch XDG_CACHE_HOME=$zigbuild_cache/xdg nice -n 19 \
    cargo zigbuild --locked --release -p "$package" --target "$target" "$@"
}
