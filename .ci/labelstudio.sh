# Label Studio server for the integration tests: source this file, then
#   ls_install VENV_DIR                 # label-studio==1.23.2 in its own venv (pins its own SDK/Django)
#   ls_start VENV_DIR DATA_DIR DOCROOT  # 127.0.0.1, free port, known admin token, local files under DOCROOT
#   ... run tests: they read LABEL_STUDIO_URL and LABEL_STUDIO_TEST_TOKEN ...
#   ls_stop
# Never run `label-studio --version`: it starts a server on 0.0.0.0:8080.

LS_VERSION="${LS_VERSION:-1.23.2}"

ls_install() {
    local venv="${1:?usage: ls_install VENV_DIR}"
    if [ -x "$venv/bin/label-studio" ] && "$venv/bin/pip" show label-studio 2>/dev/null | grep -q "^Version: $LS_VERSION\$"; then
        echo "label-studio $LS_VERSION already in $venv"
        return 0
    fi
    python3 -m venv "$venv" || return 1
    "$venv/bin/pip" install --quiet --disable-pip-version-check "label-studio==$LS_VERSION" || {
        echo "error: could not install label-studio==$LS_VERSION into $venv" >&2
        return 1
    }
}

_ls_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

ls_start() {
    local venv="${1:?usage: ls_start VENV_DIR DATA_DIR DOCROOT}" data="${2:?DATA_DIR}" docroot="${3:?DOCROOT}"
    local timeout="${LS_START_TIMEOUT:-180}" port token url log
    [ -x "$venv/bin/label-studio" ] || { echo "error: no label-studio in $venv (run ls_install first)" >&2; return 1; }
    mkdir -p "$data/xdg/config" "$data/xdg/data" "$data/xdg/cache" || return 1
    data="$(cd "$data" && pwd)"
    port="$(_ls_free_port)" || return 1
    token="${LABEL_STUDIO_TEST_TOKEN:-dc-test-$(python3 -c 'import secrets; print(secrets.token_hex(12))')}"
    url="http://127.0.0.1:$port"
    log="$data/label-studio.log"
    (
        export LABEL_STUDIO_USERNAME="admin@datacentric.test" LABEL_STUDIO_PASSWORD="dc-admin-$port-pass"
        export LABEL_STUDIO_USER_TOKEN="$token" LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true
        export LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT="$docroot"
        export LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK=true
        export SENTRY_DSN= FRONTEND_SENTRY_DSN= COLLECT_ANALYTICS=false LATEST_VERSION_CHECK=false
        export XDG_CONFIG_HOME="$data/xdg/config" XDG_DATA_HOME="$data/xdg/data" XDG_CACHE_HOME="$data/xdg/cache"
        export LABEL_STUDIO_PORT="$port"
        unset USERNAME PASSWORD HOST PORT
        exec "$venv/bin/label-studio" start --no-browser --internal-host 127.0.0.1 --port "$port" \
            --data-dir "$data/ls" --log-level WARNING </dev/null >"$log" 2>&1
    ) &
    LABEL_STUDIO_PID=$!
    export LABEL_STUDIO_URL="$url" LABEL_STUDIO_TEST_TOKEN="$token" LABEL_STUDIO_PID
    local waited=0
    until curl -fsS -m 5 -H "Authorization: Token $token" "$url/api/current-user/whoami" >/dev/null 2>&1; do
        if ! kill -0 "$LABEL_STUDIO_PID" 2>/dev/null; then
            echo "error: Label Studio exited during start-up; last lines of $log:" >&2
            tail -n 20 "$log" >&2
            return 1
        fi
        if [ "$waited" -ge "$timeout" ]; then
            echo "error: Label Studio not ready at $url after ${timeout}s; last lines of $log:" >&2
            tail -n 20 "$log" >&2
            ls_stop
            return 1
        fi
        sleep 2
        waited=$((waited + 2))
    done
    echo "Label Studio ready at $url after ${waited}s (pid $LABEL_STUDIO_PID, log $log)"
}

ls_stop() {
    if [ -n "${LABEL_STUDIO_PID:-}" ] && kill -0 "$LABEL_STUDIO_PID" 2>/dev/null; then
        kill -TERM "$LABEL_STUDIO_PID"
        local i
        for i in $(seq 1 20); do
            kill -0 "$LABEL_STUDIO_PID" 2>/dev/null || break
            sleep 0.5
        done
        kill -0 "$LABEL_STUDIO_PID" 2>/dev/null && kill -KILL "$LABEL_STUDIO_PID"
    fi
    unset LABEL_STUDIO_PID
    return 0
}
