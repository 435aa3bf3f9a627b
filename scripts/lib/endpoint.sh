# The bundled endpoint for the scripts that boot a board image against it, sourced by them.
# The caller defines `fail MESSAGE` and `$work` (a scratch directory it removes); this file
# builds iot-server, gives `start_server` and `stop_server`, and stops the server on exit
# (the caller's EXIT trap calls stop_server).

server_pid=
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
}

cargo build --quiet --release --locked -p iot-server
server=target/release/iot-server

# start_server DIR [rsa|ec|keep]: fresh certificates in DIR (device key rsa or ec; keep: the
# ones DIR has, in the endpoint's layout), the endpoint on a free port ($port). $SERVER_ARGS,
# if set, adds options of the endpoint's (split on spaces), e.g. "--tls-versions 1.2".
start_server() {
    if [ "${2:-ec}" != keep ]; then
        "$server" gen-certs --dir "$1" --device-key "${2:-ec}" >/dev/null
    fi
    # shellcheck disable=SC2086 # split on purpose: a list of options
    "$server" --port 0 --certs "$1" ${SERVER_ARGS:-} >"$work/server.out" 2>"$work/server.log" &
    server_pid=$!
    port=
    for _ in $(seq 1 100); do
        port=$(sed -n 's|.*listening on https://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$work/server.out" 2>/dev/null || true)
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || fail "the endpoint did not start: $(cat "$work/server.log")"
}
