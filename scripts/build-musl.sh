#!/usr/bin/env bash
# Builds the DynamoDB IOmod as a static x86_64 Linux binary (musl), the way it ships to AWS Lambda, and packs
# it with its manifest as an IOmod package directory (iomod.toml + bin/iomod-dynamodb) and as a `.iomod` file
# next to it (`iomod pack`; the Lambda layer's format).
#
# Usage: scripts/build-musl.sh [--profile PROFILE] [OUT_DIR]     (default: dist, target/packages/dynamodb)
#
# PROFILE is a cargo profile: `dist` (the default) is what ships, small and slow to build (fat LTO, one
# codegen unit); CI builds with `dev`, which links the same static binary in a fraction of the time.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=dist
if [[ "${1:-}" == "--profile" ]]; then
    [[ $# -ge 2 ]] || { echo "error: --profile needs a cargo profile name" >&2; exit 2; }
    profile="$2"
    shift 2
fi
out="${1:-target/packages/dynamodb}"
target=x86_64-unknown-linux-musl
# cargo names the dev profile's directory `debug`.
profile_dir="$profile"
[[ "$profile" == "dev" ]] && profile_dir=debug

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
    cargo build --profile "$profile" --target "$target" -p iomod-dynamodb --bin iomod-dynamodb
binary="target/$target/$profile_dir/iomod-dynamodb"

mkdir -p "$out/bin"
cp iomods/dynamodb/iomod.toml "$out/iomod.toml"
cp "$binary" "$out/bin/iomod-dynamodb"
size=$(stat -c %s "$binary")
echo "$binary ($profile profile): $size bytes ($(awk "BEGIN { printf \"%.1f\", $size / 1048576 }") MiB), $(file -b "$binary" | cut -d, -f1-2)"
echo "package: $out (iomod.toml, bin/iomod-dynamodb)"
# The same package as a .iomod file (AssemblyLift's format), for a Lambda layer: `iomod layer`.
version=$(sed -n 's/^version = "\(.*\)"/\1/p' iomods/dynamodb/iomod.toml | head -1)
# The iomod binary of the workspace build (the command scripts/test.sh runs, so a no-op after it):
# `cargo run -p iomod` would resolve dependency features for that package alone and compile wasmtime and
# cranelift a second time.
cargo build -q --workspace --bins --examples
target/debug/iomod pack "$out" -o "$(dirname "$out")/example.aws.dynamodb@$version.iomod"
