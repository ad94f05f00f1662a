#!/usr/bin/env bash
# Throwaway TLS and SCRAM secrets for a LOCAL fundwatch broker, made with openssl (and keytool
# for a PKCS12 trust store). deploy/kafka/kafka.sh runs it on the first start with
# FUNDWATCH_KAFKA_SECURITY=sasl_ssl. Never use them in production: there the certificates come
# from your CA and the passwords from your secret store (README, "Running secure").
#
# Usage: deploy/security/make-local-secrets.sh OUT_DIR [--bootstrap HOST:PORT] [--policy FILE] [USER ...]
#
# Makes whatever is missing in OUT_DIR (files already there are kept, so passwords that a
# formatted broker knows stay valid):
#   ca.key, ca.pem             a CA of its own; ca.pem is what clients trust (PEM trust store)
#   truststore.p12             the same CA as a PKCS12 trust store, password in truststore.password
#   broker.p12                 the broker's key and certificate, PKCS12 (CN=fundwatch-broker,
#                              SAN localhost and 127.0.0.1, server and client use: the broker
#                              also shows it to the KRaft controller listener, which requires it)
#   keystore.password          broker.p12's password
#   passwords/<user>           a random password (hex, no newline) for admin, broker, each user
#                              of the policy file and each USER
#   clients/<user>.properties  a Kafka client.properties for each user: SASL_SSL, SCRAM-SHA-512,
#                              the password read through Kafka's DirectoryConfigProvider
# Environment: PYTHON (python3 by default) reads the policy file (tomllib, Python 3.11+).
set -euo pipefail

die() {
    printf 'make-local-secrets.sh: %s\n' "$@" >&2
    exit 2
}

[[ $# -ge 1 ]] || die "usage: $0 OUT_DIR [--bootstrap HOST:PORT] [--policy FILE] [USER ...]"
OUT=$1
shift
BOOTSTRAP=127.0.0.1:9092
USERS=(admin broker)
PYTHON=${PYTHON:-python3}
DAYS=825

while (($#)); do
    case $1 in
    --bootstrap)
        BOOTSTRAP=${2:?--bootstrap needs HOST:PORT}
        shift 2
        ;;
    --policy)
        [[ -f ${2:-} ]] || die "no policy file '${2:-}'"
        # Every user the policy names: the service users, the banks', the departments'.
        mapfile -t -O "${#USERS[@]}" USERS < <("$PYTHON" - "$2" <<'EOF'
import sys, tomllib
policy = tomllib.load(open(sys.argv[1], "rb"))
users = list(policy.get("service", {}).get("users", []))
users += list(policy.get("banks", {}).values()) + list(policy.get("departments", {}).values())
print("\n".join(users))
EOF
        )
        shift 2
        ;;
    -*) die "unknown option $1" ;;
    *)
        USERS+=("$1")
        shift
        ;;
    esac
done

command -v openssl >/dev/null 2>&1 || die "openssl not found (apt-get install openssl)"
umask 077
mkdir -p -- "$OUT/passwords" "$OUT/clients"
OUT=$(cd -- "$OUT" && pwd -P)

random_secret() { openssl rand -hex 24 | tr -d '\n'; }

# Written once, without a trailing newline: Kafka's DirectoryConfigProvider reads the whole file.
keep_or_write_secret() {
    [[ -s $1 ]] || random_secret >"$1"
}

keep_or_write_secret "$OUT/keystore.password"
keep_or_write_secret "$OUT/truststore.password"

if [[ ! -s $OUT/ca.pem || ! -s $OUT/ca.key ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$DAYS" \
        -keyout "$OUT/ca.key" -out "$OUT/ca.pem" -subj "/CN=fundwatch local CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    rm -f -- "$OUT/broker.p12" "$OUT/truststore.p12" # signed by an older CA
    echo "made a local CA: $OUT/ca.pem"
fi

if [[ ! -s $OUT/broker.p12 ]]; then
    work=$(mktemp -d)
    trap 'rm -rf -- "$work"' EXIT
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$work/broker.key" \
        -out "$work/broker.csr" -subj "/CN=fundwatch-broker" 2>/dev/null
    printf '%s\n' \
        "basicConstraints=CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth,clientAuth" \
        "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$work/ext"
    openssl x509 -req -sha256 -days "$DAYS" -in "$work/broker.csr" -CA "$OUT/ca.pem" \
        -CAkey "$OUT/ca.key" -CAcreateserial -CAserial "$work/ca.srl" \
        -extfile "$work/ext" -out "$work/broker.pem" 2>/dev/null
    openssl pkcs12 -export -name broker -in "$work/broker.pem" -inkey "$work/broker.key" \
        -certfile "$OUT/ca.pem" -out "$OUT/broker.p12" \
        -passout "file:$OUT/keystore.password"
    echo "made the broker's certificate (CN=fundwatch-broker): $OUT/broker.p12"
fi

if [[ ! -s $OUT/truststore.p12 ]] && command -v keytool >/dev/null 2>&1; then
    keytool -importcert -noprompt -alias fundwatch-local-ca -file "$OUT/ca.pem" \
        -keystore "$OUT/truststore.p12" -storetype PKCS12 \
        -storepass "$(<"$OUT/truststore.password")" >/dev/null 2>&1
fi

made=()
for user in "${USERS[@]}"; do
    [[ $user =~ ^[A-Za-z0-9._-]+$ ]] || die "user name '$user' has characters a file name or JAAS value should not"
    if [[ ! -s $OUT/passwords/$user ]]; then
        random_secret >"$OUT/passwords/$user"
        made+=("$user")
    fi
    cat >"$OUT/clients/$user.properties" <<EOF
# Kafka client configuration of user $user for the local fundwatch broker (throwaway secrets).
bootstrap.servers=$BOOTSTRAP
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
config.providers=dir
config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$user" password="\${dir:$OUT/passwords:$user}";
ssl.truststore.type=PEM
ssl.truststore.location=$OUT/ca.pem
EOF
done
((${#made[@]} == 0)) || echo "made passwords for ${#made[@]} users in $OUT/passwords"
