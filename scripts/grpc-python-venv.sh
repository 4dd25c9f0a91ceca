#!/usr/bin/env bash
# Creates (once) a Python venv with a gRPC client stack nobody on this project wrote:
# grpcio, grpcio-health-checking and grpcio-reflection from PyPI. Used by cgnatd's API
# integration test (cgnatd/tests/api.rs) to check that a third-party client can health-check
# cgnatd and call it through server reflection. Idempotent; prints the venv's python.
#
#   scripts/grpc-python-venv.sh DIR      (default: target/pyvenv-grpc)
set -euo pipefail
dir=${1:-target/pyvenv-grpc}
py=${PYTHON:-python3}
if [[ -x $dir/bin/python && -f $dir/.complete ]]; then
    echo "$dir/bin/python"
    exit 0
fi
rm -rf "$dir"
"$py" -m venv "$dir" >&2 || {
    echo "grpc-python-venv: '$py -m venv' failed (Debian: apt-get install python3-venv)" >&2
    exit 1
}
"$dir/bin/pip" install --quiet --disable-pip-version-check \
    grpcio grpcio-health-checking grpcio-reflection protobuf >&2
touch "$dir/.complete"
echo "$dir/bin/python"
