#!/usr/bin/env bash
# Sets up a Debian 12 machine (with the .NET 10 SDK) to build, test and run UnleashingTransformers.
# Idempotent: when everything is present it only checks, in about a second.
set -euo pipefail

packages=(
  cmake g++ pkg-config
  libtorch-dev          # libtorch 1.13 (CPU): tensors, autograd, kernels
  libopenblas0-pthread  # fast BLAS for libtorch (without it: reference BLAS, ~20x slower)
  libvips-dev           # image decode/encode
  libgloo-dev           # the Gloo headers libtorch's c10d process groups include (data-parallel training on CPU)
  python3-torch         # Debian's PyTorch: tests check our files with it, benchmarks compare against it
  python3-scipy         # tests check FID (matrix square root), KID and precision/recall against numpy and scipy
  python3-pil           # the same tests read the images in Python to check the feature network's input
  redis-server          # the grid's cluster store (membership, grain state, reminders); tests start their own
  chromium              # a real browser for the gateway page's tests (driven by Playwright)
  clang-format          # checks the native shim's style (src/Native/.clang-format) in .ci/run
)
# npm brings the web page's OpenSeadragon at build time; a machine with Node.js from elsewhere keeps its own.
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "bootstrap: installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

# libtorch must use OpenBLAS, not the reference BLAS that may be installed beside it.
blas=$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | awk '/^Value:/ {print $2}')
case "$blas" in
  *openblas*) ;;
  *) echo "bootstrap: warning: BLAS is '$blas', not OpenBLAS; run: update-alternatives --config libblas.so.3-x86_64-linux-gnu" >&2 ;;
esac

if ! command -v dotnet >/dev/null; then
  echo "bootstrap: dotnet not found: install the .NET 10 SDK" >&2
  exit 1
fi
echo "bootstrap: ready"
