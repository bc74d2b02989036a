#!/bin/sh
# Installs cargo-deb, which builds the Debian package (`cargo deb`, see docs/operations.md) and
# which tests/package_deb.rs uses. Safe to run again; it only installs what is missing.
set -eu

CARGO_DEB_VERSION=3.8.0
PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    echo "install-deb-tools: cargo-deb $CARGO_DEB_VERSION present"
else
    echo "install-deb-tools: installing cargo-deb $CARGO_DEB_VERSION"
    cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION"
fi
