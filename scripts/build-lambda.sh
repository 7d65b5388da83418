#!/usr/bin/env bash
# Builds what is deployed to AWS Lambda, static (musl) and stripped (the `dist` profile), and packs it:
#
#   target/lambda/example.aws.dynamodb@<version>.iomod   the DynamoDB IOmod package (`iomod pack`)
#   target/lambda/layer.zip                              the layer of IOmods (`iomod layer`): /opt/iomod
#   target/lambda/function.zip                           the todo function's bundle (`iomod bundle`):
#                                                        bootstrap, function.toml, function.cwasm
#   target/lambda/native_lambda                          the native baseline of the Lambda benchmark
#
# Usage: scripts/build-lambda.sh [OUT_DIR]     (default: target/lambda)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/lambda}"
target=x86_64-unknown-linux-musl
dist="target/$target/dist"

# The DynamoDB IOmod (and musl's toolchain, which ring needs).
scripts/build-musl.sh target/packages/dynamodb
# The runtime, which becomes the bundle's bootstrap, and the native baseline.
CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build --profile dist --target "$target" -p iomod --bin iomod
CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build --profile dist --target "$target" -p iomod-dynamodb --example native_lambda
# The todo function.
cargo build --release --target wasm32-unknown-unknown --manifest-path functions/Cargo.toml

mkdir -p "$out"
iomod="$dist/iomod"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' iomods/dynamodb/iomod.toml | head -1)
package="$out/example.aws.dynamodb@$version.iomod"
"$iomod" pack target/packages/dynamodb -o "$package"
"$iomod" layer -o "$out/layer.zip" "$package"
# The bundled manifest: the todo function's, without the development entrypoint (the layer has the IOmod).
function_dir="$out/todo"
mkdir -p "$function_dir"
cat >"$function_dir/function.toml" <<TOML
[function]
name = "todo"
module = "$(pwd)/functions/target/wasm32-unknown-unknown/release/todo.wasm"
time_budget_ms = 10000
call_timeout_ms = 5000

[iomod.dependencies.dynamodb]
coordinates = "example.aws.dynamodb"
version = "$version"
TOML
# Bundled by the musl runtime itself, so the precompiled module fits the bootstrap's engine.
"$iomod" bundle "$function_dir/function.toml" -o "$out/function.zip"
cp "$dist/examples/native_lambda" "$out/native_lambda"
strip "$out/native_lambda" 2>/dev/null || true

for file in "$iomod" "$package" "$out/layer.zip" "$out/function.zip" "$out/native_lambda"; do
    size=$(stat -c %s "$file")
    printf '%-60s %10d bytes (%s MiB)\n' "$file" "$size" "$(awk "BEGIN { printf \"%.1f\", $size / 1048576 }")"
done
file -b "$iomod" | cut -d, -f1-2
