#!/bin/sh
# Installs what `fuzz/` needs (see fuzz/README.md): cargo-fuzz, the libFuzzer driver, and g++,
# which libfuzzer-sys uses to compile libFuzzer itself. The AddressSanitizer runtime comes with
# the stable toolchain's rust-std. Safe to run again; it only installs what is missing.
set -eu

CARGO_FUZZ_VERSION=0.13.2
PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if ! command -v g++ >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "install-fuzz: installing g++"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends g++
fi

if cargo fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION\$"; then
    echo "install-fuzz: cargo-fuzz $CARGO_FUZZ_VERSION present"
else
    echo "install-fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi
