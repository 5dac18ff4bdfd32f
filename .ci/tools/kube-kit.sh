#!/usr/bin/env bash
# A real Kubernetes API server for the cluster tests, without a container
# engine: kube-apiserver and kube-controller-manager built from Debian
# bookworm's `kubernetes` source package (upstream 1.20.2 with vendor/), plus
# Debian's etcd, all on 127.0.0.1 with a token kubeconfig. No kubelet, no
# scheduler: pods are created but never run.
#
#   bash .ci/tools/kube-kit.sh [build]    # build once (~10+ min cold), then reuse
#   bash .ci/tools/kube-kit.sh start DIR  # prints `export KUBECONFIG=DIR/kubeconfig`
#   bash .ci/tools/kube-kit.sh stop DIR
#
# build is idempotent: the binaries are cached outside the clone under
# $LAREDO_TOOLS_DIR (default ~/.cache/laredo-tools)/kube-<package version>-<patch
# sha256>/bin, and a run with that cache present touches neither apt nor Go.
# A cold build needs root (apt-get: a deb-src entry, golang-1.19-go, rsync,
# etcd-server, openssl, dpkg-dev, make). It prints the bin directory on stdout,
# progress on stderr. The README, "Cluster tests on a real API server", says
# how to use it; the comments below say why each flag is set.
set -euo pipefail

PKG_VERSION="1.20.5+really1.20.2-1.1+deb12u1"   # bookworm(-security)
GO_PACKAGE="golang-1.19-go"                      # what golang-go is on bookworm
GO_ROOT="/usr/lib/go-1.19"
APT_PACKAGES=("$GO_PACKAGE" rsync etcd-server openssl dpkg-dev make curl)
WHAT="cmd/kube-apiserver cmd/kube-controller-manager"
BINARIES=(kube-apiserver kube-controller-manager)
SRC_LIST="/etc/apt/sources.list.d/laredo-kube-kit-src.sources"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
patch_file="$here/kube-kit/reflect2-go119.patch"
tools="${LAREDO_TOOLS_DIR:-$HOME/.cache/laredo-tools}"
work="$tools/kube-kit"                 # downloads, Go build cache, lock
patch_sha=$(sha256sum "$patch_file" | cut -d' ' -f1)
kit="$tools/kube-${PKG_VERSION}-${patch_sha:0:16}"
bin="$kit/bin"
stamp="$kit/stamp"

log() { echo "kube-kit: $*" >&2; }
die() { log "error: $*"; exit 1; }

built() {
    [[ -f "$stamp" && -x "$bin/kube-apiserver" && -x "$bin/kube-controller-manager" ]] &&
        command -v etcd >/dev/null && command -v openssl >/dev/null && command -v curl >/dev/null
}

# ---------------------------------------------------------------- build ----

# The deb-src entry: debian.sources with `Types: deb-src`, every suite of the
# machine's own release renamed to bookworm's (a no-op on bookworm).
deb_src_entry() {
    local codename
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        sed -E -e 's/^Types:.*/Types: deb-src/' \
            -e "/^Suites:/ s/(^|[[:space:]])${codename}(-[a-z]+)?/\1bookworm\2/g" \
            /etc/apt/sources.list.d/debian.sources
    else
        printf '%s\n' "Types: deb-src" "URIs: http://deb.debian.org/debian" \
            "Suites: bookworm bookworm-updates" "Components: main" \
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" "" \
            "Types: deb-src" "URIs: http://deb.debian.org/debian-security" \
            "Suites: bookworm-security" "Components: main" \
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
    fi
}

ensure_apt() {
    local want missing=() pkg updated=0
    want=$(deb_src_entry)
    if [[ ! -f "$SRC_LIST" || "$(cat "$SRC_LIST")" != "$want" ]]; then
        log "adding the deb-src entry $SRC_LIST"
        printf '%s\n' "$want" >"$SRC_LIST"
        apt-get update -q >&2
        updated=1
    fi
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$pkg")
    done
    if ((${#missing[@]})) || ! apt-cache showsrc --only-source kubernetes 2>/dev/null |
        grep -qx "Version: $PKG_VERSION"; then
        ((updated)) || { log "apt-get update"; apt-get update -q >&2; }
    fi
    if ((${#missing[@]})); then
        log "apt-get install ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${missing[@]}" >&2
    fi
}

build() {
    built && return 0
    [[ $(id -u) == 0 ]] || die "a cold build needs root (apt-get); run it once as root"
    mkdir -p "$work"
    exec 9>"$work/lock"
    flock -n 9 || { log "waiting for another build (lock $work/lock)"; flock 9; }
    built && return 0

    local start_time=$SECONDS
    ensure_apt

    local dl="$work/download"
    mkdir -p "$dl"
    if [[ ! -f "$dl/kubernetes_${PKG_VERSION}.dsc" ]]; then
        log "apt-get source --download-only kubernetes=$PKG_VERSION"
        (cd "$dl" && apt-get source -q --download-only -o APT::Sandbox::User=root \
            "kubernetes=$PKG_VERSION" >&2)
    fi

    local src="$work/src"
    rm -rf "$src"
    # The upstream tree only: Debian's three patches touch nothing but
    # kubectl's printers (cli-runtime/pkg/printers, kubectl get/describe).
    log "unpacking the upstream tree (dpkg-source -x --skip-debianization)"
    dpkg-source --no-copy -x --skip-debianization "$dl/kubernetes_${PKG_VERSION}.dsc" "$src" >&2
    log "applying $patch_file"
    (cd "$src" && patch -p1 --forward --no-backup-if-mismatch <"$patch_file" >&2)

    log "building $WHAT with $("$GO_ROOT/bin/go" version) (about 10 minutes cold on 2 cores)"
    # hack/lib/golang.sh sets GOCACHE to _output/local/go/cache: point that at
    # a cache that outlives the tree. GOFLAGS stays unset: golang.sh reads build
    # tags out of it.
    mkdir -p "$work/go-build" "$src/_output/local/go"
    ln -s "$work/go-build" "$src/_output/local/go/cache"
    local make_log="$work/make.log"
    (
        cd "$src"
        unset GOFLAGS
        export PATH="$GO_ROOT/bin:$PATH" GOCACHE="$work/go-build" GOPROXY=off \
            GOTOOLCHAIN=local KUBE_BUILD_PLATFORMS=linux/amd64
        make WHAT="$WHAT" >"$make_log" 2>&1
    ) &
    local make_pid=$!
    while kill -0 "$make_pid" 2>/dev/null; do
        sleep 30 &
        wait $! || true
        kill -0 "$make_pid" 2>/dev/null &&
            log "still building, $(((SECONDS - start_time) / 60)) min: $(tail -n1 "$make_log" | cut -c1-120)"
    done
    if ! wait "$make_pid"; then
        tail -n 40 "$make_log" >&2
        die "make failed (log: $make_log, tree kept in $src)"
    fi

    local out="$src/_output/local/bin/linux/amd64"
    rm -rf "$kit.tmp"
    mkdir -p "$kit.tmp/bin"
    for b in "${BINARIES[@]}"; do
        install -m 0755 "$out/$b" "$kit.tmp/bin/$b"
    done
    {
        echo "package kubernetes=$PKG_VERSION"
        echo "patch $(basename "$patch_file") sha256=$patch_sha"
        echo "go $("$GO_ROOT/bin/go" version)"
        echo "built $(date -u +%FT%TZ) in $((SECONDS - start_time)) s"
        "$kit.tmp/bin/kube-apiserver" --version
    } >"$kit.tmp/stamp"
    rm -rf "$kit"
    mv "$kit.tmp" "$kit"
    rm -rf "$src"
    log "built in $((SECONDS - start_time)) s: $bin"
}

# ---------------------------------------------------------- start/stop ----

free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# Is pid $1 alive and running binary $2 (not a recycled pid)?
alive() {
    [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$2"
}

api() { # api URL-PATH -> HTTP status code
    curl -sk -o /dev/null -w '%{http_code}' -m 5 \
        -H "Authorization: Bearer admin-token" "https://127.0.0.1:$api_port$1" || true
}

start() {
    local dir="${1:?usage: kube-kit.sh start DIR}"
    build
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"

    if [[ -f "$dir/pids" ]]; then
        local name pid running=1
        while read -r name pid; do alive "$pid" "$name" || running=0; done <"$dir/pids"
        if ((running)); then
            log "already running in $dir"
            echo "export KUBECONFIG=$dir/kubeconfig"
            return 0
        fi
        stop "$dir"
    fi

    local etcd_port peer_port
    read -r etcd_port peer_port api_port <<<"$(free_ports 3)"
    rm -rf "$dir/etcd" "$dir/certs"
    : >"$dir/pids"

    openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
    openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
    echo "admin-token,admin,admin,system:masters" >"$dir/tokens.csv"
    cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kube-kit
  cluster:
    server: https://127.0.0.1:$api_port
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: admin-token
contexts:
- name: kube-kit
  context:
    cluster: kube-kit
    user: admin
    namespace: default
current-context: kube-kit
EOF

    # If anything below fails, leave nothing running.
    trap 'log "start failed; stopping what was started"; stop "$dir"' ERR

    log "etcd on 127.0.0.1:$etcd_port"
    setsid etcd --name default --data-dir "$dir/etcd" \
        --listen-client-urls "http://127.0.0.1:$etcd_port" \
        --advertise-client-urls "http://127.0.0.1:$etcd_port" \
        --listen-peer-urls "http://127.0.0.1:$peer_port" \
        --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
        --initial-cluster "default=http://127.0.0.1:$peer_port" \
        </dev/null >"$dir/etcd.log" 2>&1 &
    echo "etcd $!" >>"$dir/pids"

    # A /16 service range: a /24 runs out at 253 Services, and the operator
    # creates one per table (the benchmark creates 1,000). No endpoint
    # reconciler: the `kubernetes` Service cannot point at a loopback address
    # (it would log an error every 10 s). The default in-flight limits (400
    # reads, 200 writes) held 200 concurrent clients without a 429.
    log "kube-apiserver on https://127.0.0.1:$api_port"
    setsid "$bin/kube-apiserver" \
        --etcd-servers "http://127.0.0.1:$etcd_port" \
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
        --secure-port "$api_port" --insecure-port 0 --cert-dir "$dir/certs" \
        --token-auth-file "$dir/tokens.csv" --authorization-mode RBAC \
        --service-account-key-file "$dir/sa.pub" \
        --service-account-signing-key-file "$dir/sa.key" \
        --service-account-issuer https://kubernetes.default.svc \
        --api-audiences https://kubernetes.default.svc \
        --service-cluster-ip-range 10.96.0.0/16 \
        --disable-admission-plugins ServiceAccount \
        --endpoint-reconciler-type none \
        </dev/null >"$dir/kube-apiserver.log" 2>&1 &
    echo "kube-apiserver $!" >>"$dir/pids"

    local deadline=$((SECONDS + ${LAREDO_KUBE_KIT_TIMEOUT:-90}))
    until [[ $(api /readyz) == 200 ]]; do
        if ((SECONDS > deadline)) || ! alive "$(awk '$1=="kube-apiserver"{print $2}' "$dir/pids")" kube-apiserver; then
            log "kube-apiserver not ready; last lines of $dir/kube-apiserver.log:"
            tail -n 30 "$dir/kube-apiserver.log" >&2
            log "last lines of $dir/etcd.log:"
            tail -n 10 "$dir/etcd.log" >&2
            false
        fi
        sleep 1
    done
    log "kube-apiserver ready"

    # No service account tokens (no token controller key chain needed) and no
    # node IPAM (there are no nodes). 100 requests/s instead of 20, so that
    # garbage collection and StatefulSet pods keep up with 1,000 tables.
    setsid "$bin/kube-controller-manager" --kubeconfig "$dir/kubeconfig" \
        --leader-elect=false --port 0 --secure-port 0 \
        --kube-api-qps 100 --kube-api-burst 200 \
        --use-service-account-credentials=false \
        --service-account-private-key-file "$dir/sa.key" \
        --controllers '*,-serviceaccount-token,-nodeipam' \
        </dev/null >"$dir/kube-controller-manager.log" 2>&1 &
    echo "kube-controller-manager $!" >>"$dir/pids"

    until [[ $(api /api/v1/namespaces/default) == 200 ]]; do
        if ((SECONDS > deadline)); then
            log "the default namespace did not appear"
            false
        fi
        sleep 1
    done
    # The ServiceAccount admission plugin is off, so nothing needs the default
    # ServiceAccount; wait for it anyway (it shows the controller manager works).
    local sa_deadline=$((SECONDS + 30))
    until [[ $(api /api/v1/namespaces/default/serviceaccounts/default) == 200 ]]; do
        if ! alive "$(awk '$1=="kube-controller-manager"{print $2}' "$dir/pids")" kube-controller-manager; then
            log "kube-controller-manager exited; last lines of $dir/kube-controller-manager.log:"
            tail -n 30 "$dir/kube-controller-manager.log" >&2
            false
        fi
        if ((SECONDS > sa_deadline)); then
            log "warning: no default ServiceAccount after 30 s (see $dir/kube-controller-manager.log)"
            break
        fi
        sleep 1
    done
    trap - ERR
    log "ready: kubectl --kubeconfig $dir/kubeconfig (logs and pids in $dir)"
    echo "export KUBECONFIG=$dir/kubeconfig"
}

stop() {
    local dir="${1:?usage: kube-kit.sh stop DIR}"
    [[ -f "$dir/pids" ]] || return 0
    local name pid pids=()
    # Reverse order: controller manager, apiserver, etcd.
    while read -r name pid; do
        alive "$pid" "$name" && pids=("$pid" "${pids[@]}") && kill -TERM "$pid" 2>/dev/null || true
    done < <(tac "$dir/pids")
    local i
    for i in $(seq 1 "${LAREDO_KUBE_KIT_STOP_SECONDS:-10}"); do
        local left=()
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
        ((${#left[@]})) || break
        sleep 1
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -f "$dir/pids"
    log "stopped the kit in $dir"
}

case "${1:-build}" in
build) build; echo "$bin" ;;
start) start "${2:-}" ;;
stop) stop "${2:-}" ;;
bin) echo "$bin" ;;
*) die "usage: kube-kit.sh [build|start DIR|stop DIR|bin]" ;;
esac
