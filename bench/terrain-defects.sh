#!/bin/bash
# Where the terrain canvases' defects come from: real vs real, VQ-GAN reconstructions, one-window samples, canvases.
set -e
# Usage: [PRIOR=FILE] [VQGAN=FILE] [FLAGS="ut generate flags"] [CANVAS_ONLY=1] bench/terrain-defects.sh [DIR] after a
# Release build (default: the bundled models and ut generate's defaults; CANVAS_ONLY measures the canvases alone, as for
# a prior whose window is not 8x8); the tables are in docs/evaluation.md and bench/README.md.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
U="dotnet $ROOT/src/UnleashingTransformers.Cli/bin/Release/net10.0/ut.dll"
M=$ROOT/models/terrain
PRIOR=${PRIOR:-$M/absorbing_ema.th}
VQGAN=${VQGAN:-$M/vqgan_ema.th}
mkdir -p "${1:-/tmp/terrain-defects}" && cd "${1:-/tmp/terrain-defects}"
rm -rf realA realB recon canvas win64 real64 && mkdir -p recon canvas win64
$U dataset terrain --out realA --count 8 --size 512 --seed 11 > /dev/null
$U dataset terrain --out realB --count 8 --size 512 --seed 12 > /dev/null
$U dataset terrain --out real64 --count 64 --size 64 --seed 13 > /dev/null
[ -n "$CANVAS_ONLY" ] || for f in realA/*.png; do $U reconstruct --vqgan "$VQGAN" --size 512 --in $f --out recon/$(basename $f) > /dev/null; done
start=$(date +%s.%N)
for i in $(seq 1 8); do $U generate --prior "$PRIOR" --vqgan "$VQGAN" --shape 64x64 $FLAGS --seed $i --out canvas/c$i.png > /dev/null; done
echo "== time per 64x64-token canvas (512x512 px, start-up included): $(awk "BEGIN { printf \"%.1f\", ($(date +%s.%N) - $start) / 8 }") s"
if [ -z "$CANVAS_ONLY" ]; then
  for i in $(seq 1 64); do $U generate --prior "$PRIOR" --vqgan "$VQGAN" --shape 8x8 $FLAGS --seed $i --out win64/w$i.png > /dev/null; done
fi
for set in $([ -n "$CANVAS_ONLY" ] || echo realB recon) canvas; do echo "== realA vs $set"; $U eval --real realA --fake $set --terrain --crop 64 --count 512 --json $set.json | grep -v '^{'; done
if [ -z "$CANVAS_ONLY" ]; then
  echo "== real64 vs win64"; $U eval --real real64 --fake win64 --terrain --crop 64 --count 64 --json win64.json | grep -v '^{'
fi
