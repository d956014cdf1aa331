#!/usr/bin/env bash
# Makes sure the system programs the tests and the demo drive for real are present:
# FFmpeg + ffprobe, nginx with the RTMP and stream modules, Chromium, and Firefox ESR with PulseAudio
# (its AudioContext needs an audio output: the tests start a private null sink, harness/firefox.ts);
# WebKitGTK's WebDriver under Xvfb with the GStreamer plugins its media needs (harness/webkit.ts);
# buildah and mmdebstrap build and run the relay image without a Docker daemon (relay/test/image;
# they need root); iproute2 (`ip`, `tc`) and procps (`sysctl`) build the shaped link, a rate-capped
# network path to a relay in its own namespace (harness/shaped-link.ts; needs root too).
# As root it installs Debian's packages; otherwise it stops and names the command.
set -euo pipefail

packages="ffmpeg nginx libnginx-mod-rtmp libnginx-mod-stream chromium firefox-esr pulseaudio webkit2gtk-driver xvfb
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  buildah mmdebstrap iproute2 procps"
install_cmd="apt-get update && apt-get install -y $(echo $packages)"

missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || missing+=(ffprobe)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] || missing+=(nginx-rtmp-module)
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || missing+=(nginx-stream-module)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v firefox-esr >/dev/null 2>&1 || missing+=(firefox-esr)
command -v pulseaudio >/dev/null 2>&1 || missing+=(pulseaudio)
command -v WebKitWebDriver >/dev/null 2>&1 || missing+=(webkit2gtk-driver)
command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
# GStreamer plugin sets have no command to look for: WebKitGTK's media needs x264enc (ugly),
# avenc_aac (libav) and the base/good/bad sets around them.
for set in base good bad ugly; do
  dpkg-query -W -f='${Status}' "gstreamer1.0-plugins-$set" 2>/dev/null | grep -q 'ok installed' || missing+=("gstreamer1.0-plugins-$set")
done
dpkg-query -W -f='${Status}' gstreamer1.0-libav 2>/dev/null | grep -q 'ok installed' || missing+=(gstreamer1.0-libav)
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
{ command -v tc >/dev/null 2>&1 || [ -x /usr/sbin/tc ]; } || missing+=(iproute2)
{ command -v sysctl >/dev/null 2>&1 || [ -x /usr/sbin/sysctl ]; } || missing+=(procps)

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
