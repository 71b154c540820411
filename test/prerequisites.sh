#!/usr/bin/env bash
# The system tools the test suite uses, installed from Debian's packages when
# missing (run by `npm test` before anything else, so the README's test
# command works on a fresh machine):
# - redis-server, redis-cli: the tests start their own servers and clusters
# - protoc (protobuf-compiler): the reference the served descriptors are compared with
# - python3-grpcio, python3-protobuf for /usr/bin/python3: a strict reflection client
# - promtool (prometheus): lints the /metrics exposition
# - script (bsdutils): runs the CLI on a pseudo-terminal, to see its progress bar
# Needs root or passwordless sudo to install; otherwise prints what to install.
set -euo pipefail

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
command -v protoc >/dev/null || missing+=(protobuf-compiler)
/usr/bin/python3 -c 'import grpc, google.protobuf' 2>/dev/null || missing+=(python3-grpcio python3-protobuf)
command -v promtool >/dev/null || missing+=(prometheus)
command -v script >/dev/null || missing+=(bsdutils)
[ "${#missing[@]}" -eq 0 ] && exit 0

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    echo "the tests need these Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null; then
  echo "the tests need: ${missing[*]} (Debian package names); no apt-get here to install them" >&2
  exit 1
fi

echo "installing what the tests need: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d answering 101 keeps packages (prometheus, redis-server) from
# starting their own services: only the binaries are wanted.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod +x "$policy"
  trap '"${SUDO[@]}" rm -f "$policy"' EXIT
fi
"${SUDO[@]}" apt-get update -q </dev/null
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
