#!/usr/bin/env bash
# Prove the Dockerfile's steps without a Docker engine: build a clean Debian bookworm root with debootstrap (the
# base of python:3.11-slim-bookworm), replay the builder stage in one copy of it and the runtime stage in another,
# then start the compose services' own commands (migrate, api, worker, beat) from the runtime root against a
# PostgreSQL and a Redis this script starts, and check /healthz, /readyz, a completed job and `kyc audit verify`.
#
# Run by hand as root (slow: a few minutes, most of it downloads): bash scripts/check-image.sh
# Stand-ins, and why: the image's CPython comes from the python:3.11 image, here from Debian's python3 (same
# minor version, same Debian release underneath; python3-dev in the builder for the headers the image ships);
# `pip` runs in a venv in each root. Everything else — the apt
# packages each stage names (its "# builder-packages:" / "# runtime-packages:" comment), the sources it copies,
# `pip wheel`, `pip install --no-index` from the wheels only, the unprivileged user — is the Dockerfile's.
# The debootstrap base is cached in $KYC_IMAGE_CACHE (default /var/tmp/kyc-image-cache); each run starts from a
# fresh copy of it. The Debian mirror is the one this machine's apt uses.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${KYC_IMAGE_CACHE:-/var/tmp/kyc-image-cache}"
WORK="$(mktemp -d /var/tmp/kyc-image-check.XXXXXX)"
BUILDER="$WORK/builder"
RUNTIME="$WORK/runtime"
PY="$REPO/.venv/bin/python"
PIDS=()
MOUNTS=()

log() { printf '[check-image %(%H:%M:%S)T] %s\n' -1 "$*"; }
die() { log "FAILED: $*"; exit 1; }

cleanup() {
    set +e
    for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
    sleep 2
    for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
    [ -n "${PGDATA:-}" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1
    for ((i=${#MOUNTS[@]}-1; i>=0; i--)); do umount -R "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}"; done
    if [ -n "${KYC_IMAGE_KEEP:-}" ]; then log "kept $WORK"; return; fi
    if grep -q " $WORK/" /proc/mounts; then log "not removing $WORK: something is still mounted in it"; return; fi
    rm -rf --one-file-system "$WORK" || log "could not remove $WORK"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot)"
command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
[ -x "$PY" ] || die "run make install first (the check's client side uses the project's venv)"

mirror() {  # the first Debian mirror this machine's apt is configured with (deb822 or one-line format)
    local uri
    uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1)
    [ -n "$uri" ] || uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -1)
    [ -n "$uri" ] || die "no Debian mirror in /etc/apt sources"
    echo "$uri"
}

packages() {  # the apt packages a Dockerfile stage names in its "# <stage>-packages:" comment
    sed -n "s/^# $1-packages: //p" "$REPO/Dockerfile"
}

if [ ! -d "$CACHE/base" ]; then
    log "debootstrap bookworm (minbase) into $CACHE/base"
    mkdir -p "$CACHE"
    rm -rf "$CACHE/base.tmp"
    debootstrap --variant=minbase bookworm "$CACHE/base.tmp" "$(mirror)" >"$CACHE/debootstrap.log" 2>&1 \
        || die "debootstrap failed, see $CACHE/debootstrap.log"
    mv "$CACHE/base.tmp" "$CACHE/base"
fi

enter() {  # prepare a root for chroot: its own copy of the base, /dev /proc, the host's resolver and pip config
    local root=$1
    log "fresh root $root"
    cp -a "$CACHE/base" "$root"
    # --rbind: /dev/shm (the worker pool's semaphores) and /dev/pts are mounts of their own under /dev
    for fs in dev proc sys; do mount --rbind "/$fs" "$root/$fs"; mount --make-rslave "$root/$fs"; MOUNTS+=("$root/$fs"); done
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    # this machine's own certificate authorities (a network that inspects TLS): the root trusts what the host does
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
    [ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
    if [ -d /etc/xdg/pip ]; then mkdir -p "$root/etc/xdg"; cp -a /etc/xdg/pip "$root/etc/xdg/pip"; fi
}

in_root() {  # run a shell command in a root, with the host's package-index settings
    local root=$1; shift
    chroot "$root" /usr/bin/env -i PATH=/opt/venv/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        ${PIP_INDEX_URL:+PIP_INDEX_URL=$PIP_INDEX_URL} ${PIP_EXTRA_INDEX_URL:+PIP_EXTRA_INDEX_URL=$PIP_EXTRA_INDEX_URL} \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_CERT=/etc/ssl/certs/ca-certificates.crt DEBIAN_FRONTEND=noninteractive /bin/sh -ec "$*"
}

# --- builder stage ------------------------------------------------------------------------------------------------
enter "$BUILDER"
log "builder: apt-get install python3 python3-venv python3-dev $(packages builder)"
in_root "$BUILDER" "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends \
    python3 python3-venv python3-dev ca-certificates $(packages builder) >/dev/null 2>&1 \
    && update-ca-certificates >/dev/null"
mkdir -p "$BUILDER/src"
cp "$REPO/pyproject.toml" "$REPO/README.md" "$REPO/constraints.txt" "$BUILDER/src/"
for dir in $(sed -n 's/^COPY \([a-z]*\) \.\/\1$/\1/p' "$REPO/Dockerfile"); do
    cp -a "$REPO/$dir" "$BUILDER/src/$dir"
    find "$BUILDER/src/$dir" -name __pycache__ -prune -exec rm -rf {} +
done
log "builder: pip wheel --constraint constraints.txt --wheel-dir /wheels ."
in_root "$BUILDER" "python3 -m venv /opt/venv && cd /src && pip wheel -q --constraint constraints.txt --wheel-dir /wheels ." \
    || die "pip wheel failed in the builder root"
ls "$BUILDER/wheels" | grep -qi '^pyicu-.*\.whl$' || die "no PyICU wheel was built"

# --- runtime stage ------------------------------------------------------------------------------------------------
enter "$RUNTIME"
log "runtime: apt-get install python3 python3-venv $(packages runtime)"
in_root "$RUNTIME" "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends \
    python3 python3-venv $(packages runtime) >/dev/null && rm -rf /var/lib/apt/lists/*"
cp -a "$BUILDER/wheels" "$RUNTIME/wheels"
log "runtime: pip install --no-index --find-links=/wheels kyc-screening"
in_root "$RUNTIME" "python3 -m venv /opt/venv && pip install -q --no-index --find-links=/wheels kyc-screening \
    && rm -rf /wheels && groupadd --system kyc && useradd --system --gid kyc --home-dir /app \
    --shell /usr/sbin/nologin kyc && mkdir -p /app/var /app/audit-checkpoints && chown kyc:kyc /app/var \
    /app/audit-checkpoints" || die "the runtime install from wheels failed"
in_root "$RUNTIME" "! command -v gcc && ! command -v cc && ! test -e /usr/include/unicode/uchar.h" \
    || die "the runtime root holds a compiler or the ICU headers"
in_root "$RUNTIME" "python -c 'import icu, kyc, api, workers, lists, cli; print(icu.ICU_VERSION)'" \
    || die "the installed packages do not import"

# --- services the stack needs -------------------------------------------------------------------------------------
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGPORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REDISPORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
APIPORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/pg" && chown postgres "$WORK/pg" && chmod 755 "$WORK"
PGDATA="$WORK/pg/data"
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$WORK/pg/log" -w \
    -o "-p $PGPORT -k $WORK/pg -c listen_addresses=127.0.0.1" start >/dev/null
runuser -u postgres -- "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -qc "CREATE DATABASE kyc" >/dev/null
setsid redis-server --port "$REDISPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
    --logfile "$WORK/redis.log" & PIDS+=($!)
log "PostgreSQL on $PGPORT, Redis on $REDISPORT"

# --- the compose services' commands, from the runtime root --------------------------------------------------------
ENVFILE="$WORK/env"
"$PY" - "$REPO/docker-compose.yml" "$PGPORT" "$REDISPORT" >"$ENVFILE" <<'EOF'
import re, secrets, sys, yaml
from cryptography.fernet import Fernet
compose, pg, redis = yaml.safe_load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
given = {"POSTGRES_PASSWORD": "unused", "KYC_ENCRYPTION_KEY": Fernet.generate_key().decode(),
         "KYC_WEBHOOK_SECRET": secrets.token_hex(16), "KYC_AUDIT_KEY": secrets.token_hex(32)}
def value(text):
    def one(m):
        name, kind, arg = m.group(1), m.group(2), m.group(3)
        return given.get(name) or (arg if kind == "-" else "")
    return re.sub(r"\$\{(\w+)(?::([?-])([^}]*))?\}", one, text)
env = {k: value(str(v)) for k, v in compose["services"]["api"]["environment"].items()}
env["KYC_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{pg}/kyc"   # host "postgres" -> this machine
env["KYC_BROKER_URL"] = f"redis://127.0.0.1:{redis}/0"                 # host "redis" -> this machine
env["KYC_INGEST_SOURCES"] = "[]"                                       # no network to the official feeds here
for k, v in env.items():
    print(f"{k}={v}")
EOF
command_of() {  # the compose service's command, with the API port mapped
    "$PY" -c "import sys, yaml, shlex; c = yaml.safe_load(open(sys.argv[1]))['services'][sys.argv[2]]['command']; \
print(shlex.join(p.replace('8000', sys.argv[3]).replace('0.0.0.0', '127.0.0.1') for p in c))" \
        "$REPO/docker-compose.yml" "$1" "$APIPORT"
}
as_kyc() {  # a command in the runtime root as the image's unprivileged user, with the compose environment
    chroot --userspec=kyc:kyc "$RUNTIME" /usr/bin/env -i PATH=/opt/venv/bin:/usr/bin:/bin HOME=/app LANG=C.UTF-8 \
        HOSTNAME="$(hostname)" $(cat "$ENVFILE" | tr '\n' ' ') /bin/sh -c "cd /app && $*"
}
start() {  # a long-running service in its own process group
    setsid bash -c "$(declare -f as_kyc); RUNTIME=$RUNTIME ENVFILE=$ENVFILE as_kyc \"$2\"" >"$WORK/$1.log" 2>&1 &
    PIDS+=($!)
}

log "migrate: $(command_of migrate)"
as_kyc "$(command_of migrate)" >"$WORK/migrate.log" 2>&1 || die "migrate failed: $(tail -5 "$WORK/migrate.log")"
log "api: $(command_of api)"
start api "$(command_of api)"
log "worker: $(command_of worker)"
start worker "$(command_of worker)"
log "beat: $(command_of beat)"
start beat "$(command_of beat)"

SHARED="${KYC_SHARED_DIR:-$REPO/../shared}"
mkdir -p "$RUNTIME/tmp/lists"  # the real list file, read in place from shared/ (copied into the root's /tmp only)
cp "$SHARED/data/lists/un_sc/2026-02-27_watchman/UN_consolidated.xml" "$RUNTIME/tmp/lists/un.xml"
chmod -R a+rX "$RUNTIME/tmp/lists"
as_kyc "kyc lists ingest un_sc --file /tmp/lists/un.xml" >"$WORK/ingest.log" 2>&1 || die "ingest failed"
TOKEN=$(as_kyc "kyc users create image-check --role onboarding" 2>/dev/null | tail -1)

"$PY" - "http://127.0.0.1:$APIPORT" "$TOKEN" <<'EOF' || die "the end-to-end check failed; logs in $WORK (set KYC_IMAGE_KEEP=1)"
import sys, time, uuid, httpx
base, token = sys.argv[1], sys.argv[2]
def wait(path, seconds=180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            r = httpx.get(base + path, timeout=5)
            if r.status_code == 200:
                return r.json()
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit(f"{path} never answered 200")
print("healthz", wait("/healthz"))
print("readyz", wait("/readyz"))
body = {"customer": {"name": "Image Check Oy", "business_id": "1572860-0", "country": "FI"},
        "persons": [{"role": "beneficial_owner", "name": "SAIF-AL-DIN AL-MASHHADANI", "ownership": 0.5}]}
auth = {"Authorization": f"Bearer {token}"}
r = httpx.post(base + "/v1/screenings", json=body, headers={**auth, "Idempotency-Key": uuid.uuid4().hex}, timeout=30)
assert r.status_code == 202, r.text
job = r.json()["id"]
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    status = httpx.get(f"{base}/v1/screenings/{job}", headers=auth, timeout=10).json()
    if status["status"] in ("completed", "failed"):
        break
    time.sleep(0.5)
print("job", status)
assert status["status"] == "completed" and status["outcome"] in ("review", "match"), status
EOF
as_kyc "kyc audit checkpoint" >"$WORK/checkpoint.log" 2>&1 || die "kyc audit checkpoint failed"
as_kyc "kyc audit verify" >"$WORK/verify.log" 2>&1 || die "kyc audit verify failed: $(cat "$WORK/verify.log")"
log "audit verify: $(tail -1 "$WORK/verify.log")"
log "PASSED: image steps replayed in a clean bookworm root; migrate, api, worker, beat ran; job completed; audit verified"
