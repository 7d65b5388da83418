#!/usr/bin/env bash
# Builds the DynamoDB IOmod as a static x86_64 Linux binary (musl), the way it ships to AWS Lambda, and packs
# it with its manifest as an IOmod package directory (iomod.toml + bin/iomod-dynamodb) and as a `.iomod` file
# next to it (`iomod pack`; the Lambda layer's format).
#
# Usage: scripts/build-musl.sh [OUT_DIR]     (default: target/packages/dynamodb)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/packages/dynamodb}"
target=x86_64-unknown-linux-musl

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi
# ring (TLS) compiles C and assembly: it needs musl's C compiler wrapper.
if ! command -v musl-gcc >/dev/null; then
    if command -v apt-get >/dev/null; then
        sudo_cmd=""
        [[ "$(id -u)" -ne 0 ]] && sudo_cmd="sudo"
        $sudo_cmd apt-get install -y -qq musl-tools >/dev/null 2>&1 ||
            { $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq musl-tools; }
    else
        echo "error: musl-gcc is missing (install musl-tools)" >&2
        exit 1
    fi
fi

CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build --profile dist --target "$target" -p iomod-dynamodb --bin iomod-dynamodb
binary="target/$target/dist/iomod-dynamodb"

mkdir -p "$out/bin"
cp iomods/dynamodb/iomod.toml "$out/iomod.toml"
cp "$binary" "$out/bin/iomod-dynamodb"
size=$(stat -c %s "$binary")
echo "$binary: $size bytes ($(awk "BEGIN { printf \"%.1f\", $size / 1048576 }") MiB), $(file -b "$binary" | cut -d, -f1-2)"
echo "package: $out (iomod.toml, bin/iomod-dynamodb)"
# The same package as a .iomod file (AssemblyLift's format), for a Lambda layer: `iomod layer`.
version=$(sed -n 's/^version = "\(.*\)"/\1/p' iomods/dynamodb/iomod.toml | head -1)
# The iomod binary of the workspace build (the command scripts/test.sh runs, so a no-op after it):
# `cargo run -p iomod` would resolve dependency features for that package alone and compile wasmtime and
# cranelift a second time.
cargo build -q --workspace --bins --examples
target/debug/iomod pack "$out" -o "$(dirname "$out")/example.aws.dynamodb@$version.iomod"
