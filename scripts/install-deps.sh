#!/bin/sh
# Installs what dialbridge needs to build and to run its tests on Debian 12:
# GStreamer (dev headers + plugins; G.722 needs gstreamer1.0-libav), the real SIP peers the
# tests talk to (sipp from sip-tester, kamailio with its TLS module, baresip for TLS + SRTP
# calls, Janus, Chromium; socat and openssl to put Debian's TLS-less sipp behind TLS and make
# test certificates), espeak-ng + sox to
# regenerate prompts, the npm packages of the browser tests, and (last) cargo-fuzz for the
# fuzz smoke test (scripts/install-fuzz.sh), and cargo-deb with dpkg-dev and systemd (for
# systemd-analyze) for the package test (scripts/install-deb-tools.sh), and
# nextcloud-spreed-signaling 1.2.4 from bookworm-backports for tests/nextcloud.rs
# (scripts/install-signaling.sh says why backports).
# Safe to run again; it only installs what is missing.
set -eu

PACKAGES="pkg-config
libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
gstreamer1.0-nice gstreamer1.0-libav gstreamer1.0-tools
sip-tester kamailio kamailio-tls-modules baresip-core janus
socat openssl tcpdump
espeak-ng sox
iproute2
chromium
dpkg-dev systemd"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install-deps: all apt packages present"
else
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "install-deps: installing$missing"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi

"$(dirname "$0")/install-browser-deps.sh"
"$(dirname "$0")/install-fuzz.sh"
"$(dirname "$0")/install-deb-tools.sh"
"$(dirname "$0")/install-signaling.sh"
