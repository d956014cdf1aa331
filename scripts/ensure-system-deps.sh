#!/usr/bin/env bash
# Makes sure the system programs the tests and the demo drive for real are present:
# FFmpeg + ffprobe, nginx with the RTMP and stream modules, and Chromium; buildah and mmdebstrap
# build and run the relay image without a Docker daemon (relay/test/image; they need root).
# As root it installs Debian's packages; otherwise it stops and names the command.
set -euo pipefail

packages="ffmpeg nginx libnginx-mod-rtmp libnginx-mod-stream chromium buildah mmdebstrap"
install_cmd="apt-get update && apt-get install -y $packages"

missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || missing+=(ffprobe)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] || missing+=(nginx-rtmp-module)
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || missing+=(nginx-stream-module)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system programs: ${missing[*]}. Install them with: sudo sh -c '$install_cmd'" >&2
  exit 1
fi

echo "Installing missing system programs (${missing[*]}): $install_cmd"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq $packages >/dev/null
