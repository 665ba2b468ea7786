#!/usr/bin/env bash
# One shard of the nightly matrix, as the GitHub Actions example runs it
# (and `make test` checks it): build runmatrix without root or apt, run
# the shard, keep the results whatever the cells say.
#
# usage: shard.sh I/N OUTDIR [runmatrix run flags...]
set -euo pipefail
shard=$1 out=$2
shift 2
cd "$(dirname "$0")/../.."
make -s binaries >&2
status=0
./bin/runmatrix run -f examples/matrix.yaml --shard "$shard" --out "$out" --format markdown "$@" || status=$?
# 1 means a cell was unexpected or could not run: the results stand and the
# merge step reports them. Anything else (bad input, 130) is this step's failure.
case $status in
0 | 1) echo "runmatrix run: exit status $status; results in $out" >&2 ;;
*) exit "$status" ;;
esac
