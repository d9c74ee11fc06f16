# Shared by scripts/run, scripts/test, scripts/bench and .ci/run: install what is missing, start what
# is needed. Every step checks first, so a warm machine pays (almost) nothing.
# shellcheck shell=bash

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CARGO_LEPTOS_VERSION=0.3.10
say() { printf '\033[1;34m==>\033[0m [%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

# Installs Debian packages (as root; otherwise says what is missing).
apt_get() {
  [ $# -eq 0 ] && return 0
  is_root || die "missing packages: $* (install them, or run this as root)"
  say "installing $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Debian packages, installed only when a command they provide is missing: apt_install CMD PKG ...
apt_install() {
  local missing=()
  while [ $# -gt 0 ]; do
    command -v "$1" >/dev/null 2>&1 || missing+=("$2")
    shift 2
  done
  apt_get "${missing[@]}"
}

# Debian packages that provide no command (libraries), installed when dpkg does not know them.
apt_packages() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  apt_get "${missing[@]}"
}

# The Rust side of the build: the wasm target, cargo-leptos, and the wasm-bindgen CLI that matches
# Cargo.lock (cargo-leptos would otherwise download tools from GitHub).
ensure_rust_tools() {
  command -v cargo >/dev/null || die "Rust is needed: https://rustup.rs"
  if command -v rustup >/dev/null; then
    rustup target list --installed | grep -qx wasm32-unknown-unknown || {
      say "adding the wasm32 target"; rustup target add wasm32-unknown-unknown; }
  fi
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    # cargo-leptos links OpenSSL.
    command -v dpkg >/dev/null && apt_packages build-essential pkg-config libssl-dev
    say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 15 minutes, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
  fi
  # berth-router runs in its own image on the clusters' nodes: a static (musl) binary.
  if command -v rustup >/dev/null; then
    rustup target list --installed | grep -qx x86_64-unknown-linux-musl || {
      say "adding the musl target (berth-router is built static)"; rustup target add x86_64-unknown-linux-musl; }
  fi
  apt_install musl-gcc musl-tools
  local wbg
  wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $wbg\$"; then
    say "installing wasm-bindgen-cli $wbg"
    # Not --locked: a locked dependency of the CLI is missing from the registry mirror.
    cargo install wasm-bindgen-cli --version "$wbg"
  fi
}

# Tailwind and wasm-opt for cargo-leptos, playwright-core for the browser tests.
ensure_npm_tools() {
  command -v npm >/dev/null || apt_install npm npm
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm tools"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

# A running Docker engine on the local socket.
ensure_docker() {
  docker info >/dev/null 2>&1 && return 0
  apt_install dockerd docker.io docker docker.io containerd containerd runc runc iptables iptables
  is_root || die "the Docker engine is not running; start it (or run this as root)"
  say "starting dockerd"
  if [ -d /run/systemd/system ]; then
    systemctl start docker
  else
    (setsid dockerd --host unix:///var/run/docker.sock >/var/log/dockerd.log 2>&1 </dev/null &)
  fi
  for _ in $(seq 1 150); do docker info >/dev/null 2>&1 && return 0; sleep 0.2; done
  die "dockerd did not start; see /var/log/dockerd.log"
}

# PostgreSQL for the store tests: TEST_POSTGRES_URL when given, else Debian's server on this machine.
ensure_postgres() {
  if [ -n "${TEST_POSTGRES_URL:-}" ]; then return 0; fi
  apt_install pg_ctlcluster postgresql
  is_root || die "set TEST_POSTGRES_URL to a PostgreSQL role that may create databases (or run as root)"
  local version
  version=$(ls /usr/lib/postgresql | sort -n | tail -1)
  pg_lsclusters -h | grep -q "^$version main" || pg_createcluster "$version" main >/dev/null
  pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" { print $4 }' | grep -q online ||
    pg_ctlcluster "$version" main start
  su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'berth'\"" | grep -q 1 ||
    su postgres -c "psql -qc \"CREATE ROLE berth LOGIN CREATEDB PASSWORD 'berth'\""
  # Leftovers of interrupted runs.
  for db in $(su postgres -c "psql -qtAc \"SELECT datname FROM pg_database WHERE datname LIKE 'berth_test_%'\""); do
    su postgres -c "psql -qc 'DROP DATABASE IF EXISTS $db WITH (FORCE)'" >/dev/null
  done
  export TEST_POSTGRES_URL="postgres://berth:berth@127.0.0.1:5432/postgres"
}

# Everything the browser tests need: Debian's Chromium and busybox for the offline test image.
ensure_browser() {
  if [ -z "${CHROMIUM:-}" ]; then
    apt_install chromium chromium
  fi
  apt_install busybox busybox-static
}

# The static berth-router binary the clusters' routers run (`build_router` or `build_router --release`).
build_router() {
  CC_x86_64_unknown_linux_musl=musl-gcc cargo build -p router --bin berth-router --target x86_64-unknown-linux-musl "$@"
}
