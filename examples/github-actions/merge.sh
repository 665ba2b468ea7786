#!/usr/bin/env bash
# Merge the shards' results into one table and compare it with the last
# night's, as the GitHub Actions example does (and `make test` checks).
# The baseline is replaced by tonight's results; the exit status is 1 when
# a cell changed since the baseline (drift), after everything is written.
#
# usage: merge.sh OUTDIR BASELINE.json SHARD/results.json...
# RUNMATRIX names the binary (default: runmatrix on PATH).
set -euo pipefail
out=$1 baseline=$2
shift 2
rm=${RUNMATRIX:-runmatrix}
mkdir -p "$out"
"$rm" merge -o "$out/results.json" "$@"
"$rm" table "$out/results.json" --format markdown >"$out/summary.md"
"$rm" table "$out/results.json" --format html >"$out/report.html"
drift=0
if [ -f "$baseline" ]; then
	echo >>"$out/summary.md"
	"$rm" diff "$baseline" "$out/results.json" >>"$out/summary.md" || drift=$?
fi
cp "$out/results.json" "$baseline"
case $drift in
0) ;;
1) echo "cells changed since the baseline: see $out/summary.md" >&2 ;;
*) exit "$drift" ;;
esac
exit "$drift"
