#!/usr/bin/env bash
# Cold start and idle memory of the release binary.
#
# Builds `cargo build --release`, then RUNS times per case starts
# `lagesbild serve --listen 127.0.0.1:<free port> --data-dir <dir>`, measures the wall time until
# `GET /readyz` answers 200 (curl every POLL_MS), lets the server idle IDLE_SECS, reads VmRSS and
# VmHWM from /proc/<pid>/status and stops it with SIGTERM. Cases:
#
#   sqlite-fresh      a new, empty data dir each run (database created, migrations applied, key generated)
#   sqlite-existing   one data dir, migrated by an unmeasured first start, reused by every run
#   postgres-fresh    a new, empty database each run (only if PostgreSQL answers at PGHOST:PGPORT)
#   postgres-existing one database, migrated by an unmeasured first start, reused by every run
#
# Baselines, measured in the same run: the wall time of `lagesbild --version` (exec and exit of the
# same binary) and of one curl GET /healthz against a running server (the polling overhead).
#
# Environment: RUNS (5), IDLE_SECS (3), POLL_MS (5), READY_TIMEOUT_SECS (60), PGHOST (127.0.0.1),
# PGPORT (5432), PGUSER (postgres), SKIP_POSTGRES=1 to skip PostgreSQL, CARGO_TARGET_DIR.
# Every server process, temporary directory and database it creates is removed on exit.
set -euo pipefail

RUNS="${RUNS:-5}"
IDLE_SECS="${IDLE_SECS:-3}"
POLL_MS="${POLL_MS:-5}"
READY_TIMEOUT_SECS="${READY_TIMEOUT_SECS:-60}"
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-postgres}"
export PGHOST PGPORT PGUSER

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SERVER_PID=""
TEMP_DIRS=()
DATABASES=()

# SIGTERM, up to 10 s to drain, then SIGKILL.
stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}

cleanup() {
    local status=$?
    stop_server
    local db dir
    for db in "${DATABASES[@]+"${DATABASES[@]}"}"; do
        dropdb --if-exists --force "$db" 2>/dev/null || echo "warning: could not drop database $db" >&2
    done
    for dir in "${TEMP_DIRS[@]+"${TEMP_DIRS[@]}"}"; do
        rm -rf -- "$dir"
    done
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "building: cargo build --release" >&2
cargo build --release --quiet
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)"
BIN="$TARGET_DIR/release/lagesbild"
[[ -x "$BIN" ]] || { echo "error: no binary at $BIN" >&2; exit 1; }

now_ns() { date +%s%N; }

# Sets NEW_DIR to a fresh temporary directory (removed on exit).
new_temp_dir() {
    NEW_DIR="$(mktemp -d "${TMPDIR:-/tmp}/lagesbild-startup.XXXXXX")"
    TEMP_DIRS+=("$NEW_DIR")
}

# A TCP port nothing on this machine listens on.
free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 40000))
        if ! ss -Htln "sport = :$port" | grep -q .; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    echo "error: no free port found" >&2
    return 1
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minimum() { sort -n | head -n 1; }

# start_server DATA_DIR LOG [DATABASE_URL] -> sets SERVER_PID, PORT
start_server() {
    local data_dir="$1" log="$2" url="${3:-}"
    PORT="$(free_port)"
    if [[ -n "$url" ]]; then
        DATABASE_URL="$url" LAGESBILD_LOG_FORMAT=json "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$data_dir" \
            >>"$log" 2>&1 &
    else
        env -u DATABASE_URL LAGESBILD_LOG_FORMAT=json "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$data_dir" \
            >>"$log" 2>&1 &
    fi
    SERVER_PID=$!
}

# Polls /readyz until 200; prints the milliseconds since START_NS.
wait_ready() {
    local start_ns="$1" log="$2" code deadline
    deadline=$(( $(now_ns) + READY_TIMEOUT_SECS * 1000000000 ))
    while :; do
        code="$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$PORT/readyz" || true)"
        if [[ "$code" == 200 ]]; then
            awk -v a="$start_ns" -v b="$(now_ns)" 'BEGIN { printf "%.1f\n", (b - a) / 1e6 }'
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "error: the server exited before it was ready; its log:" >&2
            cat "$log" >&2
            return 1
        fi
        if (( $(now_ns) > deadline )); then
            echo "error: /readyz did not answer 200 within ${READY_TIMEOUT_SECS}s; its log:" >&2
            cat "$log" >&2
            return 1
        fi
        sleep "$(awk -v ms="$POLL_MS" 'BEGIN { printf "%.3f", ms / 1000 }')"
    done
}


status_kib() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$SERVER_PID/status"; }

# Sets NEW_URL to a fresh, empty PostgreSQL database (dropped on exit).
fresh_database() {
    local name="lagesbild_startup_$$_$1"
    DATABASES+=("$name")
    createdb "$name"
    NEW_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$name"
}

ROWS=()
# measure CASE: RUNS starts of one case; appends a table row.
measure() {
    local case="$1" ready=() rss=() hwm=() i data_dir url log start_ns ms
    local shared_dir="" shared_url=""
    if [[ "$case" == *-existing ]]; then
        new_temp_dir
        shared_dir="$NEW_DIR"
        if [[ "$case" == postgres-* ]]; then
            fresh_database existing
            shared_url="$NEW_URL"
        fi
        log="$shared_dir/prepare.log"
        start_server "$shared_dir" "$log" "$shared_url"
        wait_ready "$(now_ns)" "$log" >/dev/null
        stop_server
    fi
    for i in $(seq 1 "$RUNS"); do
        if [[ -n "$shared_dir" ]]; then
            data_dir="$shared_dir"
            url="$shared_url"
        else
            new_temp_dir
            data_dir="$NEW_DIR"
            url=""
            if [[ "$case" == postgres-* ]]; then
                fresh_database "fresh_$i"
                url="$NEW_URL"
            fi
        fi
        new_temp_dir
        log="$NEW_DIR/server.log"
        start_ns="$(now_ns)"
        start_server "$data_dir" "$log" "$url"
        ms="$(wait_ready "$start_ns" "$log")"
        sleep "$IDLE_SECS"
        ready+=("$ms")
        rss+=("$(status_kib VmRSS)")
        hwm+=("$(status_kib VmHWM)")
        stop_server
        printf '%s run %s: ready in %s ms, VmRSS %s KiB, VmHWM %s KiB\n' "$case" "$i" "$ms" "${rss[-1]}" "${hwm[-1]}" >&2
    done
    ROWS+=("$(printf '| %s | %s | %s | %s | %s | %s | %s |' "$case" "$RUNS" \
        "$(printf '%s\n' "${ready[@]}" | minimum)" "$(printf '%s\n' "${ready[@]}" | median)" \
        "$(printf '%s\n' "${ready[@]}" | sort -n | tail -n 1)" \
        "$(printf '%s\n' "${rss[@]}" | median | awk '{ printf "%.1f", $1 / 1024 }')" \
        "$(printf '%s\n' "${hwm[@]}" | median | awk '{ printf "%.1f", $1 / 1024 }')")")
}

baselines() {
    local exec_ms=() curl_ms=() i start_ns dir log
    for i in $(seq 1 "$RUNS"); do
        start_ns="$(now_ns)"
        "$BIN" --version >/dev/null
        exec_ms+=("$(awk -v a="$start_ns" -v b="$(now_ns)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')")
    done
    new_temp_dir
    dir="$NEW_DIR"
    log="$dir/server.log"
    start_server "$dir" "$log" ""
    wait_ready "$(now_ns)" "$log" >/dev/null
    for i in $(seq 1 "$RUNS"); do
        start_ns="$(now_ns)"
        curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz"
        curl_ms+=("$(awk -v a="$start_ns" -v b="$(now_ns)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')")
    done
    stop_server
    BASE_EXEC="$(printf '%s\n' "${exec_ms[@]}" | median)"
    BASE_CURL="$(printf '%s\n' "${curl_ms[@]}" | median)"
}

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "binary: $BIN ($(du -h "$BIN" | cut -f1)), runs per case: $RUNS, idle before reading memory: ${IDLE_SECS}s, poll: ${POLL_MS}ms"

baselines
measure sqlite-fresh
measure sqlite-existing
if [[ "${SKIP_POSTGRES:-0}" != 1 ]] && pg_isready -q && psql -qAtc 'SELECT 1' postgres >/dev/null 2>&1; then
    measure postgres-fresh
    measure postgres-existing
else
    echo "PostgreSQL not reachable at $PGHOST:$PGPORT as $PGUSER (or SKIP_POSTGRES=1): skipped" >&2
fi

echo
echo "baseline: \`lagesbild --version\` median ${BASE_EXEC} ms; one curl GET /healthz median ${BASE_CURL} ms"
echo
echo "| case | runs | ready min ms | ready median ms | ready max ms | VmRSS median MiB | VmHWM median MiB |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
