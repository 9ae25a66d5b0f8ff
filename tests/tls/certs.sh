# Certificates for the throwaway test servers (slapd, Samba AD DC, 389-DS): one CA per server
# directory and a server certificate it signs. Sourced by tests/*/start-*.sh, not run.
#
# EC P-256 rather than RSA because the keys are generated instantly (RSA costs noticeable time
# per test). The server certificate names its address in subjectAltName: rustls, like every
# strict client, never falls back to the CN.

# make_test_ca DIR: DIR/ca.pem and DIR/ca.key, the CA (world-readable: clients run as other
# users in some setups).
make_test_ca() {
    local dir=$1
    mkdir -p "$dir"
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 3650 -subj "/CN=hrsync test CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || return 1
    chmod 644 "$dir/ca.pem"
}

# issue_test_cert DIR CN SAN: DIR/server.pem and DIR/server.key for CN with subjectAltName SAN
# (e.g. "IP:127.0.0.1,DNS:localhost"), signed by DIR's CA.
issue_test_cert() {
    local dir=$1 cn=$2 san=$3
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=$cn" 2>/dev/null || return 1
    cat >"$dir/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san
EXT
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 3650 -extfile "$dir/server.ext" -out "$dir/server.pem" \
        2>/dev/null || return 1
    rm -f "$dir/server.csr" "$dir/server.ext" "$dir/ca.srl"
}
