#!/usr/bin/env bash
# Builds, into buildah's local storage, a stand-in for the relay image's base `oven/bun:<ver>-debian`
# for machines that cannot pull from Docker Hub: the same Debian release (a minbase root filesystem
# made by mmdebstrap from Debian's own packages, plus ca-certificates), the same Bun version (the
# binary of the `bun` npm package in node_modules) and the same `bun` user (uid/gid 1000,
# /home/bun), mirroring oven-sh/bun's dockerhub/debian/Dockerfile. Its docker-entrypoint.sh is
# left out: the relay's Dockerfile replaces ENTRYPOINT.
# Cached: when the tag already exists nothing is built. Prints the image name on stdout.
#
#   IMAGE_BASE_SUITE  Debian release (default trixie: oven/bun's Debian images moved from bookworm
#                     to trixie during Bun 1.3.x, oven-sh/bun#24055)
#   DEBIAN_MIRROR     default http://deb.debian.org/debian (plain http: apt checks signatures, and
#                     nothing inside the build then needs to trust this network's TLS authority)
#   BUN_BINARY        default node_modules/bun/bin/bun.exe
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
suite="${IMAGE_BASE_SUITE:-trixie}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
bun_bin="${BUN_BINARY:-$root/node_modules/bun/bin/bun.exe}"

missing=()
for tool in buildah mmdebstrap; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "image-base: missing ${missing[*]}; install with: apt-get install -y buildah mmdebstrap (or run scripts/ensure-system-deps.sh as root)" >&2
  exit 2
fi
[ -x "$bun_bin" ] || { echo "image-base: no Bun binary at $bun_bin (run npm ci)" >&2; exit 2; }

# The stand-in must carry the Bun the Dockerfile pins, or the test proves a different image.
pinned="$(sed -n 's/^ARG BASE_IMAGE=oven\/bun:\([0-9.]*\)-debian.*/\1/p' "$root/relay/Dockerfile")"
version="$("$bun_bin" --version)"
if [ "$version" != "$pinned" ]; then
  echo "image-base: relay/Dockerfile pins oven/bun:${pinned:-?}-debian but $bun_bin is Bun $version; keep the two in step" >&2
  exit 2
fi

image="localhost/transwrap-relay-base:${suite}-bun${version}"
if buildah inspect --type image "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "image-base: making $image (mmdebstrap $suite from $mirror)" >&2
# The same sources as Debian's own images, so the relay's `apt-get install` gets the same (patched) packages.
security="${mirror%/debian}/debian-security"
mmdebstrap --quiet --variant=minbase --include=ca-certificates "$suite" "$work/rootfs.tar" \
  "deb $mirror $suite main" "deb $mirror $suite-updates main" "deb $security $suite-security main" >&2
cp "$bun_bin" "$work/bun"
cat >"$work/Containerfile" <<'EOF'
FROM scratch
ADD rootfs.tar /
COPY bun /usr/local/bin/bun
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ARG BUN_RUNTIME_TRANSPILER_CACHE_PATH=0
ENV BUN_RUNTIME_TRANSPILER_CACHE_PATH=${BUN_RUNTIME_TRANSPILER_CACHE_PATH}
ARG BUN_INSTALL_BIN=/usr/local/bin
ENV BUN_INSTALL_BIN=${BUN_INSTALL_BIN}
RUN chmod 0755 /usr/local/bin/bun \
 && groupadd bun --gid 1000 \
 && useradd bun --uid 1000 --gid bun --shell /bin/sh --create-home \
 && ln -s /usr/local/bin/bun /usr/local/bin/bunx \
 && bun --version
WORKDIR /home/bun/app
CMD ["/usr/local/bin/bun"]
EOF
buildah build --quiet --isolation chroot --layers=false -t "$image" "$work" >&2
echo "$image"
