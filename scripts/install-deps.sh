#!/bin/sh
# Install exactly the Debian 12 packages seqrec needs to build and test.
# Idempotent: does nothing (quietly) when everything is already installed.
set -eu

PKGS="build-essential cmake pkg-config git
libdnnl-dev ocl-icd-opencl-dev
libzmq3-dev libmsgpack-dev
libcmocka-dev libsystemd-dev systemd
zlib1g-dev libxxhash-dev libinih-dev libjansson-dev
clang-14 libclang-rt-14-dev python3"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
