#!/bin/sh
# The compose stack's PostgreSQL TLS material, made once into the volumes postgres-tls (the
# server's certificate and key, readable by the postgres user of the alpine image, uid 70) and
# postgres-ca (the CA certificate only, which the services mount to verify the server with
# sslmode=verify-full). For this local stack only: production uses the database operator's CA.
set -eu
if [ -s /tls/server.key ] && [ -s /ca/ca.crt ]; then
    exit 0
fi
apk add --no-cache openssl >/dev/null
work=$(mktemp -d)
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
    -subj "/CN=Kokeilu compose PostgreSQL CA" -keyout ca.key -out ca.crt
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=postgres" -keyout server.key -out server.csr
printf 'subjectAltName=DNS:postgres,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > san.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
    -extfile san.ext -out server.crt
install -m 0600 -o 70 -g 70 server.key /tls/server.key
install -m 0644 -o 70 -g 70 server.crt /tls/server.crt
install -m 0644 ca.crt /ca/ca.crt
cd /
rm -rf "$work"
