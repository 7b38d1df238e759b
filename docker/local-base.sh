#!/usr/bin/env bash
# Makes a Java 17 base image from Debian's packages alone, for machines that cannot pull public images (CI):
# a minimal Debian bookworm (mmdebstrap, no docs, man pages or locales) imported into Docker, then
# docker/java17-base on top of it. Needs root, mmdebstrap and a Docker daemon; apt reaches deb.debian.org.
# Usage: docker/local-base.sh [TAG]     (default glow-serve-java17)
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=${1:-glow-serve-java17}
DOCKER=${DOCKER:-docker}
tar=$(mktemp --suffix=.tar)
trap 'rm -f "$tar"' EXIT
mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' --dpkgopt='path-exclude=/usr/share/info/*' \
  bookworm "$tar"
$DOCKER import "$tar" debian-minbase:bookworm >/dev/null
DOCKER_BUILDKIT=1 $DOCKER build --quiet --network host -t "$TAG" docker/java17-base >/dev/null
$DOCKER run --rm "$TAG" java -version
