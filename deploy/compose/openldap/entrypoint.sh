#!/bin/sh
# Starts the trial's slapd in the foreground. On the first start (empty data volume) it makes a
# CA and a server certificate for the names "openldap" and "localhost", writes the CA to
# $PUBLIC_DIR for hrsync's ca_file, and loads base.ldif and every /seed/*.ldif.
#
# Environment (defaults are the container's; the test suite runs this script outside a
# container with its own):
#   TRIAL_HOME           slapd.conf and base.ldif                /etc/hrsync-trial
#   LDAP_DATA            database, TLS key and the generated conf /var/lib/hrsync-trial
#   PUBLIC_DIR           where ca.pem is copied for clients       /var/lib/hrsync-trial-public
#   SEED_DIR             extra LDIF files                         /seed
#   ADMIN_PASSWORD_FILE  the rootdn's password                    /run/secrets/ldap-admin-password
#   SLAPD_URLS           listeners                                ldap:///
#   SLAPD_USER           user slapd drops to ("" to stay)         openldap
#   SLAPD_LOGLEVEL       slapd -d level                           stats
set -eu
HOME_DIR=${TRIAL_HOME:-/etc/hrsync-trial}
DATA=${LDAP_DATA:-/var/lib/hrsync-trial}
PUBLIC=${PUBLIC_DIR:-/var/lib/hrsync-trial-public}
SEED=${SEED_DIR:-/seed}
PASSWORD_FILE=${ADMIN_PASSWORD_FILE:-/run/secrets/ldap-admin-password}
URLS=${SLAPD_URLS:-ldap:///}
RUN_AS=${SLAPD_USER-openldap}
PATH="$PATH:/usr/sbin:/sbin"

umask 077
mkdir -p "$DATA/db" "$DATA/tls" "$PUBLIC"
TLS="$DATA/tls"
if [ ! -s "$TLS/server.pem" ]; then
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$TLS/ca.key" -out "$TLS/ca.pem" -days 3650 -subj "/CN=hrsync trial CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$TLS/server.key" -out "$TLS/server.csr" -subj "/CN=openldap" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
        "subjectAltName=DNS:openldap,DNS:localhost,IP:127.0.0.1" >"$TLS/server.ext"
    openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" \
        -CAcreateserial -days 3650 -extfile "$TLS/server.ext" -out "$TLS/server.pem" 2>/dev/null
    rm -f "$TLS/server.csr" "$TLS/server.ext" "$TLS/ca.srl" "$TLS/ca.key"
fi
chmod 644 "$TLS/ca.pem"
# Public, for hrsync (another user in another container): umask 077 would make the copy 0600.
cp "$TLS/ca.pem" "$PUBLIC/ca.pem"
chmod 644 "$PUBLIC/ca.pem"
chmod 755 "$PUBLIC"

# The admin password, hashed into the generated slapd.conf (without its trailing newline, as
# hrsync reads it).
printf '%s' "$(cat "$PASSWORD_FILE")" >"$DATA/rootpw"
ROOTPW=$(slappasswd -h '{SSHA}' -T "$DATA/rootpw" 2>/dev/null)
rm -f "$DATA/rootpw"
sed -e "s#@DATA@#$DATA#g" -e "s#@ROOTPW@#$ROOTPW#" "$HOME_DIR/slapd.conf" >"$DATA/slapd.conf"

if [ ! -e "$DATA/db/data.mdb" ]; then
    slapadd -q -f "$DATA/slapd.conf" -l "$HOME_DIR/base.ldif"
    for seed in "$SEED"/*.ldif; do
        [ -e "$seed" ] || continue
        echo "loading $seed" >&2
        slapadd -q -f "$DATA/slapd.conf" -l "$seed"
    done
fi

if [ -n "$RUN_AS" ]; then
    chown -R "$RUN_AS:$RUN_AS" "$DATA"
    exec slapd -d "${SLAPD_LOGLEVEL:-stats}" -f "$DATA/slapd.conf" -h "$URLS" -u "$RUN_AS" -g "$RUN_AS"
fi
exec slapd -d "${SLAPD_LOGLEVEL:-stats}" -f "$DATA/slapd.conf" -h "$URLS"
