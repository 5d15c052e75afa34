#!/usr/bin/env bash
# Builds the ut image with podman, offline: a Debian 12 base made from this machine's own apt mirror
# (mmdebstrap, no registry), tagged by a hash of its package list and rebuilt only when that changes;
# the self-contained publish of the CLI on top (deploy/Containerfile).
#
#   deploy/image.sh [TAG]                      default localhost/ut:dev
#   deploy/image.sh --base IMAGE [TAG]         on an ordinary machine: FROM a registry image (e.g.
#                                              docker.io/library/debian:bookworm-slim); the Containerfile
#                                              installs the runtime libraries into it
# Prints the image's name and size last. Export: podman save --format oci-archive -o ut.oci.tar TAG
set -euo pipefail
cd "$(dirname "$0")/.."

base=""
if [ "${1:-}" = "--base" ]; then
  [ -n "${2:-}" ] || { echo "image.sh: --base needs an image name (e.g. docker.io/library/debian:bookworm-slim)" >&2; exit 2; }
  base=$2; shift 2
fi
tag=${1:-localhost/ut:dev}
case "$tag" in
  -*) echo "image.sh: unknown option '$tag' (usage: deploy/image.sh [--base IMAGE] [TAG])" >&2; exit 2 ;;
esac
# runc and the ulimits this sandbox allows (deploy/containers.conf says why).
export CONTAINERS_CONF="$PWD/deploy/containers.conf"

need=()
for tool in podman runc mmdebstrap; do command -v "$tool" >/dev/null || need+=("$tool"); done
if ((${#need[@]})); then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "image.sh: installing ${need[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
fi

# What the program needs at run time (the shim's NEEDED libraries resolve inside it).
packages="libtorch1.13,libopenblas0-pthread,libvips42"
pull=(--pull=never)
if [ -z "$base" ]; then
  base="localhost/ut-base:bookworm-$(printf %s "$packages" | sha256sum | cut -c1-12)"
  if ! podman image exists "$base"; then
    sources=/etc/apt/sources.list.d/debian.sources
    [ -f "$sources" ] || sources=/etc/apt/sources.list
    echo "image.sh: building $base from the apt mirror in $sources (about 3 minutes, once)"
    # Imported through a temporary tag, then renamed: an interrupted build leaves no base that looks whole.
    mmdebstrap --quiet --variant=apt --include="$packages" \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
      bookworm - "$sources" \
      | podman import --quiet --change 'CMD ["/bin/bash"]' - "$base-partial" >/dev/null
    podman tag "$base-partial" "$base"
    podman rmi "$base-partial" >/dev/null
  fi
else
  pull=(--pull=missing)
fi

# Its own artifacts path, so a publish never rewrites the build outputs tests are running from.
app=artifacts/image/app
rm -rf "$app"
dotnet publish src/UnleashingTransformers.Cli -c Release -r linux-x64 --self-contained \
  --artifacts-path artifacts/image/build -o "$app" -nologo -v quiet
podman build "${pull[@]}" --quiet --build-arg BASE="$base" -f deploy/Containerfile -t "$tag" "$app" >/dev/null
# The image this tag named before, now untagged: gone, so rebuilds do not fill the disk.
podman image prune -f >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$tag")
echo "image.sh: built $tag on $base ($((size / 1000000)) MB)"
