#!/usr/bin/env bash
# Installs the system pieces rcae needs on Debian bookworm: a Vulkan driver recent enough for Dawn
# (Mesa lavapipe from bookworm-backports) when no WebGPU-capable Vulkan ICD is present, and
# Chromium for the browser tests (headless, WebGPU on its own SwiftShader adapter), and
# redis-server for the queue tests (they start their own on a free loopback port).
# Idempotent and quick when already done. RCAE_SETUP_TORCH=1 (set by tools/setup.mjs under CI) also
# installs Debian's python3-torch, the tests' and tools/' reference (never needed at run time).
set -euo pipefail

need_root() { if [ "$(id -u)" != 0 ]; then echo "rcae setup: needs root to install $1 (run as root or install it yourself)" >&2; exit 1; fi; }

mesa_ok() {
  # Dawn needs Mesa >= 23; bookworm ships 22.x, backports ships 25.x.
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 23 && [ -e /usr/lib/x86_64-linux-gnu/libvulkan.so.1 -o -e /usr/lib/aarch64-linux-gnu/libvulkan.so.1 ]
}

add_backports() {
  local src=/etc/apt/sources.list.d/debian.sources dst=/etc/apt/sources.list.d/rcae-backports.sources
  [ -e "$dst" ] && return 0
  grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ && return 0
  [ -r "$src" ] || { echo "rcae setup: $src not found; add bookworm-backports to apt yourself" >&2; exit 1; }
  # Derive the suite from the machine's own main entry so no mirror host is written here.
  awk 'BEGIN{RS="";ORS="\n\n"} /Suites:[^\n]*bookworm([ \n]|$)/ && !/security/ {sub(/Suites:[^\n]*/, "Suites: bookworm-backports"); print; exit}' "$src" > "$dst.tmp"
  [ -s "$dst.tmp" ] || { rm -f "$dst.tmp"; echo "rcae setup: no bookworm entry in $src to derive backports from" >&2; exit 1; }
  mv "$dst.tmp" "$dst"
  apt-get update -qq
}

if ! mesa_ok; then
  need_root "mesa-vulkan-drivers from bookworm-backports"
  add_backports
  [ -n "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -i backports || true)" ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
fi

# Chromium only serves the browser tests, so its absence is reported, not fatal.
if ! [ -x /usr/bin/chromium ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "rcae setup: Chromium not installed and not root; the browser tests (test/web) will be skipped: apt-get install chromium" >&2
  elif ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; }; then
    echo "rcae setup: apt-get install chromium failed; the browser tests (test/web) will be skipped" >&2
  fi
fi

# redis-server only serves the queue tests, so its absence is reported, not fatal.
if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "rcae setup: redis-server not installed and not root; the queue tests (test/queue) will be skipped: apt-get install redis-server" >&2
  elif ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }; }; then
    echo "rcae setup: apt-get install redis-server failed; the queue tests (test/queue) will be skipped" >&2
  fi
fi

if [ "${RCAE_SETUP_TORCH:-0}" = 1 ] && ! /usr/bin/python3 -c 'import torch, numpy, PIL' 2>/dev/null; then
  need_root "python3-torch"
  [ -n "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -i _main_ || true)" ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-numpy python3-pil >/dev/null
fi
