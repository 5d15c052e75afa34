#!/bin/bash
# Where the terrain canvases' defects come from: real vs real, VQ-GAN reconstructions, one-window samples, canvases.
set -e
# Usage: bench/terrain-defects.sh [DIR] after a Release build; the table is in docs/evaluation.md.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
U="dotnet $ROOT/src/UnleashingTransformers.Cli/bin/Release/net10.0/ut.dll"
M=$ROOT/models/terrain
mkdir -p "${1:-/tmp/terrain-defects}" && cd "${1:-/tmp/terrain-defects}"
rm -rf realA realB recon canvas win64 real64 && mkdir -p recon canvas win64
$U dataset terrain --out realA --count 8 --size 512 --seed 11 > /dev/null
$U dataset terrain --out realB --count 8 --size 512 --seed 12 > /dev/null
$U dataset terrain --out real64 --count 64 --size 64 --seed 13 > /dev/null
for f in realA/*.png; do $U reconstruct --vqgan $M/vqgan_ema.th --size 512 --in $f --out recon/$(basename $f) > /dev/null; done
for i in $(seq 1 8); do $U generate --shape 64x64 --seed $i --out canvas/c$i.png > /dev/null; done
for i in $(seq 1 64); do $U generate --shape 8x8 --seed $i --out win64/w$i.png > /dev/null; done
for set in realB recon canvas; do echo "== realA vs $set"; $U eval --real realA --fake $set --terrain --crop 64 --count 512 --json $set.json | grep -v '^{'; done
echo "== real64 vs win64"; $U eval --real real64 --fake win64 --terrain --crop 64 --count 64 --json win64.json | grep -v '^{'
