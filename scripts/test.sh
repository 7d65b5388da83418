#!/usr/bin/env bash
# Sets up and runs every test: unit, doc and end-to-end (real IOmod processes on real sockets, wasm functions
# in the host, the DynamoDB IOmod against a moto server on 127.0.0.1 that the tests start and stop), then
# packages the published crates.
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The checked-in generated files of the DynamoDB IOmod match its manifest, and its iomod.lock records every
# member at its ordinal (check verifies the lock next to the manifest). (The SDK's checked-in protocol
# code and schema are checked against schemas/iomod.capnp by iomod-codegen's `protocol` test, below.)
cargo run -q -p iomod-codegen -- check iomods/dynamodb/iomod.toml --out iomods/dynamodb \
    --only guest,schema,json --guest-sdk-dependency '{ path = "../../../iomod-sdk" }'
# And those of the Python example IOmod (its registration descriptor included).
cargo run -q -p iomod-codegen -- check examples/python-iomod/iomod.toml --out examples/python-iomod \
    --only guest,schema,json,registration --guest-sdk-dependency '{ path = "../../../iomod-sdk" }'
# The DynamoDB IOmod's interface has no breaking change its version does not declare: compared with the last
# release tag, or else with the merge base with origin/main.
against=""
if tag=$(git describe --tags --abbrev=0 --match 'v*' 2>/dev/null); then
    against=$tag
elif git rev-parse --verify -q origin/main >/dev/null; then
    against=$(git merge-base HEAD origin/main)
fi
if [ -n "$against" ] && git cat-file -e "$against:iomods/dynamodb/iomod.toml" 2>/dev/null; then
    cargo run -q -p iomod-codegen -- breaking iomods/dynamodb/iomod.toml \
        --against "git:$against:iomods/dynamodb/iomod.toml"
else
    echo "test.sh: no release tag (v*) and no origin/main: nothing to compare the DynamoDB manifest against"
fi
# The end-to-end tests start the workspace's binaries (iomod, iomod-echo, iomod-dynamodb) as real processes,
# and the Lambda benchmark's smoke run its native baseline (an example).
cargo build --workspace --bins --examples
cargo test --workspace --all-targets
cargo test --workspace --doc
# The sample functions' native tests (the todo service against an in-memory DynamoDB stand-in).
cargo test --manifest-path functions/Cargo.toml -p todo
# The published crates package. iomod-sdk and iomod-codegen are also built from their packages alone, each
# as a workspace of its own (cargo package's verification), given the workspace's dev profile, which a
# package's manifest lacks (the same settings as Cargo.toml's), so that the build reuses the dependencies
# compiled above. Built alone, the runtime (iomod) would resolve its dependencies' features apart from the
# workspace's and build wasmtime and cranelift again (six to ten minutes on two cores); its package must
# instead hold every file under src/ (cargo leaves out a directory holding a Cargo.toml as another
# package's). `cargo package -p iomod-sdk -p iomod-codegen -p iomod` verifies all three.
# --allow-dirty: the files as they are, committed or not.
dev_profile=(--config 'profile.dev.debug="line-tables-only"')
for crate in wasmi wasmi_core wasmi_ir wasmi_collections capnpc-embedded; do
    dev_profile+=(--config "profile.dev.package.$crate.opt-level=3")
done
# cargo unpacks the packages it verifies under $CARGO_HOME/registry/src/-<hash of the local registry's path>/
# and reuses an earlier unpacking of the same name and version: drop those, or an older iomod-sdk is built.
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/iomod-sdk-* "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/iomod-codegen-*
cargo package --allow-dirty -p iomod-sdk -p iomod-codegen "${dev_profile[@]}"
cargo package --allow-dirty --no-verify -p iomod-sdk -p iomod-codegen -p iomod
diff -u <(git ls-files --cached --others --exclude-standard src | sort) \
    <(cargo package --allow-dirty --list -p iomod | grep '^src/' | sort)
