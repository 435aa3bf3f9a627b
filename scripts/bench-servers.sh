#!/usr/bin/env bash
# Sourced by scripts/bench-report.sh (and by scripts/test-cortex-m.sh and
# scripts/bench-cortex-m.sh, for the certificates): test certificates and the real servers
# the demo is measured against. Every server requires a client certificate, listens on
# 127.0.0.1 only, on a free port, with its files in the caller's temporary directory ($work),
# and is stopped by stop_servers.

# Debian packages of the servers, installed if missing (idempotent; says what it does).
ensure_server_packages() {
    local missing=()
    command -v nginx >/dev/null || missing+=(nginx-light)
    command -v apache2 >/dev/null || missing+=(apache2)
    command -v haproxy >/dev/null || missing+=(haproxy)
    command -v openssl >/dev/null || missing+=(openssl)
    command -v curl >/dev/null || missing+=(curl)
    [ ${#missing[@]} -eq 0 ] && return
    echo "bench-report: installing Debian packages: ${missing[*]} (apt-get)"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Certificates in $work/certs. Server side as AWS IoT's ATS endpoints: an RSA-2048 root, an
# RSA-2048 intermediate CA, an RSA-2048 leaf for localhost; the server sends leaf +
# intermediate. Device side: a P-256 device CA and two device certificates, RSA-2048 (as the
# AWS IoT console issues) and P-256.
make_bench_certs() {
    local d=$work/certs
    mkdir -p "$d"
    (
        cd "$d"
        ossl() { openssl "$@" 2>/dev/null; }
        ossl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days 30 \
            -subj "/CN=bench root CA" -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign"
        printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > ca.ext
        ossl req -newkey rsa:2048 -nodes -keyout int.key -out int.csr -subj "/CN=bench intermediate CA"
        ossl x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial -out int.pem -days 30 -extfile ca.ext
        printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:10.0.2.2\n' > server.ext
        ossl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost"
        ossl x509 -req -in server.csr -CA int.pem -CAkey int.key -CAcreateserial -out server-leaf.pem -days 30 -extfile server.ext
        cat server-leaf.pem int.pem > server-chain.pem
        cat server-chain.pem server.key > server-chain-and-key.pem
        ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout devca.key -out devca.pem \
            -days 30 -subj "/CN=bench device CA" -addext "basicConstraints=critical,CA:TRUE"
        printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' > device.ext
        ossl req -newkey rsa:2048 -nodes -keyout device-rsa.key -out rsa.csr -subj "/CN=bench device rsa2048"
        ossl x509 -req -in rsa.csr -CA devca.pem -CAkey devca.key -CAcreateserial -out device-rsa.pem -days 30 -extfile device.ext
        ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout device-ec.key -out ec.csr -subj "/CN=bench device p256"
        ossl x509 -req -in ec.csr -CA devca.pem -CAkey devca.key -CAcreateserial -out device-ec.pem -days 30 -extfile device.ext
        openssl verify -CAfile root.pem -untrusted int.pem server-leaf.pem >/dev/null
        # The bundled endpoint's layout (ca.pem is the CA device certificates chain to).
        mkdir -p endpoint
        cp devca.pem endpoint/ca.pem && cp devca.key endpoint/ca.key
        cp server-chain.pem endpoint/server.pem && cp server.key endpoint/server.key
        cp device-rsa.pem endpoint/device.pem && cp device-rsa.key endpoint/device.key
        # The P-256 device's side in the same layout (what a board image embeds: the root its
        # server chain ends in, its certificate and key).
        mkdir -p device-p256
        cp root.pem device-p256/ca.pem
        cp device-ec.pem device-p256/device.pem && cp device-ec.key device-p256/device.key
    )
    # Servers may drop privileges (Apache's workers run as nobody): the files must be readable.
    chmod -R a+rX "$work"
}

# $work/download/blob.bin, $1 bytes: in each 64 KiB block, byte j is (j ^ j >> 8) XOR the
# block's number (the pattern tls-download checks, byte by byte).
make_download_file() {
    mkdir -p "$work/download"
    python3 - "$1" "$work/download/blob.bin" <<'PY'
import sys
size, path = int(sys.argv[1]), sys.argv[2]
base = bytes((j ^ (j >> 8)) & 0xff for j in range(65536))
with open(path, "wb") as out:
    for block in range((size + 65535) // 65536):
        table = bytes((x ^ block) & 0xff for x in range(256))
        out.write(base.translate(table)[: min(65536, size - block * 65536)])
PY
}

server_pids=()
declare -A server_port

# Waits until a TLS server on $1 answers (any handshake outcome counts), up to 5 s.
wait_for_port() {
    for _ in $(seq 50); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "bench-report: a server did not start listening on 127.0.0.1:$1" >&2
    return 1
}

start_nginx() {
    local d=$work/nginx port aes_port
    port=$(free_port)
    aes_port=$(free_port)
    mkdir -p "$d"
    cat > "$d/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $d/body;
  proxy_temp_path $d/proxy; fastcgi_temp_path $d/fcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $work/certs/server-chain.pem;
    ssl_certificate_key $work/certs/server.key;
    ssl_client_certificate $work/certs/devca.pem;
    ssl_verify_client on;
    location / { default_type application/json; return 200 '{"message":"OK"}'; }
    location /download/ { alias $work/download/; }
  }
  # The same, with AES-128-GCM as the only cipher: the download's cipher comparison.
  server {
    listen 127.0.0.1:$aes_port ssl;
    ssl_protocols TLSv1.2;
    ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256;
    ssl_certificate $work/certs/server-chain.pem;
    ssl_certificate_key $work/certs/server.key;
    ssl_client_certificate $work/certs/devca.pem;
    ssl_verify_client on;
    location /download/ { alias $work/download/; }
  }
}
EOF
    nginx -c "$d/nginx.conf" -p "$d" >"$d/stderr" 2>&1 &
    server_pids+=($!)
    server_port[nginx]=$port
    server_port[nginx-aes]=$aes_port
    wait_for_port "$port"
    wait_for_port "$aes_port"
}

start_apache() {
    local d=$work/apache port modules=/usr/lib/apache2/modules
    port=$(free_port)
    mkdir -p "$d/www"
    printf '{"message":"OK"}' > "$d/www/ok.json"
    cat > "$d/httpd.conf" <<EOF
ServerRoot $d
PidFile $d/httpd.pid
ErrorLog $d/error.log
LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule alias_module $modules/mod_alias.so
LoadModule mime_module $modules/mod_mime.so
LoadModule socache_shmcb_module $modules/mod_socache_shmcb.so
LoadModule ssl_module $modules/mod_ssl.so
TypesConfig /dev/null
AddType application/json .json
User nobody
Group nogroup
Listen 127.0.0.1:$port
ServerName localhost
Mutex file:$d
DocumentRoot $d/www
AllowEncodedSlashes On
AliasMatch ^/topics/ $d/www/ok.json
SSLSessionCache shmcb:$d/ssl_scache(512000)
<Directory $d/www>
  Require all granted
</Directory>
<VirtualHost 127.0.0.1:$port>
  SSLEngine on
  SSLCertificateFile $work/certs/server-leaf.pem
  SSLCertificateChainFile $work/certs/int.pem
  SSLCertificateKeyFile $work/certs/server.key
  SSLCACertificateFile $work/certs/devca.pem
  SSLVerifyClient require
  SSLVerifyDepth 2
</VirtualHost>
EOF
    chmod -R a+rX "$d"
    apache2 -f "$d/httpd.conf" -DFOREGROUND >"$d/stderr" 2>&1 &
    server_pids+=($!)
    server_port[apache]=$port
    wait_for_port "$port"
}

start_haproxy() {
    local d=$work/haproxy port
    port=$(free_port)
    mkdir -p "$d"
    cat > "$d/haproxy.cfg" <<EOF
global
  log stderr format raw local0 err
defaults
  mode http
  timeout connect 5s
  timeout client 10s
  timeout server 10s
frontend bench
  bind 127.0.0.1:$port ssl crt $work/certs/server-chain-and-key.pem ca-file $work/certs/devca.pem verify required
  http-request return status 200 content-type application/json string "{\"message\":\"OK\"}"
EOF
    haproxy -f "$d/haproxy.cfg" -db >"$d/stderr" 2>&1 &
    server_pids+=($!)
    server_port[haproxy]=$port
    wait_for_port "$port"
}

start_endpoint() {
    local port
    port=$(free_port)
    ./target/release/iot-server --port "$port" --certs "$work/certs/endpoint" >"$work/endpoint.log" 2>&1 &
    server_pids+=($!)
    server_port[endpoint]=$port
    wait_for_port "$port"
}

stop_servers() {
    local pid
    for pid in "${server_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${server_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    server_pids=()
}

# The version string of each server, for the report.
server_version() {
    case $1 in
    nginx) nginx -v 2>&1 | sed 's/^nginx version: //' ;;
    apache) apache2 -v | sed -n 's/^Server version: //p' ;;
    haproxy) haproxy -v | awk 'NR == 1' | awk '{print "HAProxy " $3}' ;;
    endpoint) echo "bundled iot-server (rustls)" ;;
    esac
}
