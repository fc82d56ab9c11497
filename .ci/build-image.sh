#!/bin/sh
# Builds the urna container image on this machine, from a static binary and
# nothing else: no base image, no registry, no Dockerfile build step. The
# image holds /urna (CGO_ENABLED=0) and an empty /tmp.
#
#   .ci/build-image.sh [TAG]        (default TAG: urna:local)
set -eu
tag=${1:-urna:local}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/root/tmp"
chmod 1777 "$tmp/root/tmp"
CGO_ENABLED=0 go build -trimpath -o "$tmp/root/urna" ./cmd/urna
tar -C "$tmp/root" -cf "$tmp/root.tar" .
docker import \
	--change 'ENTRYPOINT ["/urna"]' \
	--change 'ENV QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING=true' \
	--change 'LABEL org.opencontainers.image.title=urna' \
	"$tmp/root.tar" "$tag" >/dev/null
echo "built image $tag"
