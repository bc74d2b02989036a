#!/bin/sh
# Installs nextcloud-spreed-signaling 1.2.4 (Nextcloud Talk's High Performance Backend) for
# tests/nextcloud.rs, from Debian's own bookworm-backports. Why backports: Debian 12's own
# 0.4.1-4 carries a packaging patch (build-with-sdp-3.4.patch) that makes it refuse every
# roomType "video" offer ("Not allowed to publish."), so no caller audio could be published;
# the backports build (1.2.4-1~bpo12+1, a Debian 12 build depending only on libc6) works with
# Debian 12's Janus unchanged. Backports is pinned at 100: nothing else gets upgraded.
# Safe to run again; it only does what is missing.
set -eu

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
SOURCES=/etc/apt/sources.list.d/bookworm-backports.sources

version=$(dpkg-query -W -f='${Version}' nextcloud-spreed-signaling 2>/dev/null || true)
case "$version" in
1.*|2.*)
    echo "install-signaling: nextcloud-spreed-signaling $version present"
    exit 0
    ;;
esac

if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "install-signaling: adding the bookworm-backports apt source"
    $SUDO tee "$SOURCES" >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
    -t bookworm-backports nextcloud-spreed-signaling
