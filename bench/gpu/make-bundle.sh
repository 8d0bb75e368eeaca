#!/usr/bin/env bash
# Builds .bundle/rcae-gpu-bundle.tar.xz: everything `rcae bench` and the PyTorch baseline need on a GPU
# machine that has no Node, no npm and no network (see bench/gpu/README.md). The bundle holds this
# machine's x86-64 `node` (symbols stripped), the built package (package.json, bin/, dist/src, dist/bench),
# its production node_modules with only the linux-x64 native binaries, the Vulkan loader .debs, and
# bench/gpu/ with tools/rcae_model.py. Safe to re-run: the staging tree is rebuilt from scratch each
# time, the .debs are downloaded once into a cache, and the archive is replaced atomically.
#
# Usage: bench/gpu/make-bundle.sh [--out DIR] [--xz-level N] [--no-build]
#   --out DIR      folder for the archive (default: <repo>/.bundle)
#   --xz-level N   xz preset 0-9 (default 6). Level 1 is several times faster and compresses less
#                  (39.7 against 34.2 MiB), so it gives a quick upper bound of the size (the tests use it).
#   --no-build     package dist/ as it is instead of running `node tools/build.mjs` first
# Environment: RCAE_BUNDLE_DEB_CACHE  where the .debs and their apt lists are kept
#              (default <repo>/.cache/gpu-bundle, outside .bundle/ so that carrying .bundle/ stays small)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT_DIR=$ROOT/.bundle
XZ_LEVEL=6
BUILD=1
NAME=rcae-gpu-bundle
LIMIT_BYTES=$((64 * 1024 * 1024))
DEB_CACHE=${RCAE_BUNDLE_DEB_CACHE:-$ROOT/.cache/gpu-bundle}
# The Vulkan loader, and the GL dispatch libraries that the device machine's recipe installs beside it
# (the NVIDIA Vulkan ICD is libGLX_nvidia, which links against libGLdispatch from libglvnd0).
DEBS=(libvulkan1 libglvnd0 libegl1 libopengl0 libgl1 libglx0 libgles2)
# Libraries a stock Debian/Ubuntu always has (glibc, libstdc++, libgcc); anything else must be in the bundle.
SYSTEM_LIBS='^(linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libresolv\.so\.2|libstdc\+\+\.so\.6|libgcc_s\.so\.1)$'

fail() { echo "make-bundle: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case $1 in
    --out) [ $# -ge 2 ] || fail "--out needs a folder"; OUT_DIR=$2; shift 2 ;;
    --xz-level) [ $# -ge 2 ] || fail "--xz-level needs a number"; XZ_LEVEL=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown argument '$1' (see --help)" ;;
  esac
done
[[ $XZ_LEVEL =~ ^[0-9]$ ]] || fail "--xz-level must be 0-9, got '$XZ_LEVEL'"
for tool in node npm tar xz ldd dpkg-deb; do
  command -v "$tool" >/dev/null || fail "needs '$tool' on PATH"
done
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
ARCHIVE=$OUT_DIR/$NAME.tar.xz

# Staged outside the repository: Node resolves packages up the folder tree, so a staging folder inside
# the repo would fall back on the repo's node_modules and hide a package missing from the bundle.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rcae-bundle.XXXXXX")
trap 'rm -rf "$WORK" "$ARCHIVE.tmp"' EXIT
STAGE=$WORK/$NAME
mkdir -p "$STAGE"

is_x86_64_elf() {  # ELF magic, 64-bit class, machine 0x3e (x86-64, little-endian)
  local h; h=$(od -An -tx1 -N20 "$1" | tr -d ' \n')
  [ "${h:0:8}" = 7f454c46 ] && [ "${h:8:2}" = 02 ] && [ "${h:36:4}" = 3e00 ]
}

echo "== node"
NODE_BIN=$(readlink -f "$(command -v node)")
is_x86_64_elf "$NODE_BIN" || fail "$NODE_BIN is not an x86-64 ELF executable; the GPU machine is x86-64"
if command -v strip >/dev/null; then
  # The debug info and symbol table are half of node's size; .dynsym, which native addons link against, stays.
  strip --strip-all -o "$STAGE/node" "$NODE_BIN"
else
  cp "$NODE_BIN" "$STAGE/node"
fi
chmod 755 "$STAGE/node"
echo "$NODE_BIN ($("$STAGE/node" --version)), $(stat -c %s "$NODE_BIN") bytes -> $(stat -c %s "$STAGE/node") bytes"

echo "== package"
if [ "$BUILD" = 1 ]; then node "$ROOT/tools/build.mjs" || fail "the build failed (node tools/build.mjs; --no-build packages dist/ as it is)"; fi
for f in dist/src/cli/main.js dist/bench/harness.js dist/bench/gpu/summary.js bin/rcae.js package.json tools/rcae_model.py; do
  [ -f "$ROOT/$f" ] || fail "$ROOT/$f is missing (build first: node tools/build.mjs)"
done
# npm lists the production dependency tree from the installed node_modules (no network); tinybench is a
# devDependency that the bench harness imports at run time.
mapfile -t PACKAGES < <(cd "$ROOT" && npm ls --omit=dev --all --parseable 2>/dev/null | sed -n "s|^$ROOT/||p" | grep '^node_modules/' || true)
mapfile -t PACKAGES < <(printf '%s\n' "${PACKAGES[@]}" node_modules/tinybench | sort -u)
for p in node_modules/webgpu/dist/linux-x64/dawn.node node_modules/sharp node_modules/tinybench; do
  [ -e "$ROOT/$p" ] || fail "$ROOT/$p is missing (run npm install)"
done
# musl builds of optional native addons (msgpackr-extract, under bullmq) never load on glibc.
EXCLUDES=(--exclude='*.d.ts' --exclude='*.map' --exclude='*.musl.node')
for d in "$ROOT"/node_modules/webgpu/dist/*/; do
  d=${d%/}
  [ "${d##*/}" = linux-x64 ] || EXCLUDES+=(--exclude="node_modules/webgpu/dist/${d##*/}")
done
for d in "$ROOT"/node_modules/@img/sharp-*; do
  [[ ${d##*/} == *-linux-x64 ]] || EXCLUDES+=(--exclude="node_modules/@img/${d##*/}")
done
mkdir -p "$STAGE/bench/gpu" "$STAGE/tools"
tar -C "$ROOT" -cf - "${EXCLUDES[@]}" package.json bin dist/src dist/bench "${PACKAGES[@]}" | tar -C "$STAGE" -xf -
cp "$ROOT/tools/rcae_model.py" "$STAGE/tools/"
cp "$ROOT/bench/gpu/run-on-gpu.sh" "$ROOT/bench/gpu/torch_baseline.py" "$ROOT/bench/gpu/README.md" "$STAGE/bench/gpu/"
chmod 755 "$STAGE/bench/gpu/run-on-gpu.sh"

echo "== native libraries (ldd)"
NATIVE=("$STAGE/node")
GLIBC_NEEDED=()
mapfile -t -O 1 NATIVE < <(find "$STAGE/node_modules" -type f \( -name '*.node' -o -name '*.so' -o -name '*.so.*' \) | sort)
for f in "${NATIVE[@]}"; do
  is_x86_64_elf "$f" || fail "${f#"$STAGE"/} is not an x86-64 ELF file"
  libs=()
  while read -r name _ path _; do
    [ -n "$name" ] || continue
    [ "$path" != "not" ] || fail "${f#"$STAGE"/} needs $name, which is not found"
    if [[ ${name##*/} =~ $SYSTEM_LIBS ]]; then libs+=("${name##*/}")
    elif [[ $path == "$STAGE"/* ]]; then libs+=("${name##*/} (bundled)")
    else fail "${f#"$STAGE"/} links against $name ($path), which is neither bundled nor on a stock Debian/Ubuntu"
    fi
  done < <(ldd "$f" | sed 's/^[[:space:]]*//')
  glibc=$(command -v objdump >/dev/null && objdump -T "$f" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 || true)
  echo "${f#"$STAGE"/}: ${libs[*]}${glibc:+; needs $glibc}"
  GLIBC_NEEDED+=("$glibc")
done
echo "the bundle needs glibc >= $(printf '%s\n' "${GLIBC_NEEDED[@]}" | sort -V | tail -1 | sed 's/GLIBC_//') (Debian 12 has 2.36, Ubuntu 22.04 2.35, Ubuntu 24.04 2.39)"

echo "== Vulkan loader packages"
mkdir -p "$DEB_CACHE/debs"
missing=()
for pkg in "${DEBS[@]}"; do compgen -G "$DEB_CACHE/debs/${pkg}_*_amd64.deb" >/dev/null || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || fail "needs apt-get to download ${missing[*]} (or put their amd64 .debs in $DEB_CACHE/debs)"
  # amd64 regardless of this machine's architecture, with private package lists (the device recipe's options).
  APT=(-qq -oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$DEB_CACHE/apt-lists")
  [ "$(id -u)" != 0 ] || APT+=(-oAPT::Sandbox::User=root)  # the cache may be unreadable to apt's _apt user
  mkdir -p "$DEB_CACHE/apt-lists/partial"
  apt-get "${APT[@]}" update || fail "apt-get update failed (the .debs come from the Debian registry)"
  (cd "$DEB_CACHE/debs" && apt-get "${APT[@]}" download "${missing[@]}") || fail "apt-get download ${missing[*]} failed"
fi
mkdir -p "$STAGE/vulkan-debs"
for pkg in "${DEBS[@]}"; do
  debs=("$DEB_CACHE"/debs/"${pkg}"_*_amd64.deb)
  [ ${#debs[@]} = 1 ] || fail "$DEB_CACHE/debs holds ${#debs[@]} versions of $pkg; delete all but one"
  dpkg-deb --info "${debs[0]}" >/dev/null || fail "${debs[0]} is not a valid .deb (delete it to download again)"
  cp "${debs[0]}" "$STAGE/vulkan-debs/"
  echo "${debs[0]##*/}"
done

echo "== smoke test of the staged tree"
# From the staging folder (no node_modules above it), so every import must be satisfied by the bundle.
(cd "$STAGE" && env -u NODE_PATH XDG_RUNTIME_DIR=/tmp ./node --input-type=module \
  -e "await import('webgpu'); await import('sharp'); await import('tinybench'); process.exit(0)") \
  || fail "the staged node_modules cannot load webgpu, sharp and tinybench"
(cd "$STAGE" && env -u NODE_PATH XDG_RUNTIME_DIR=/tmp ./node bin/rcae.js --version) || fail "the staged 'rcae --version' failed"
mkdir -p "$WORK/no-results"
(cd "$STAGE" && ./node dist/bench/gpu/summary.js "$WORK/no-results" > /dev/null) || fail "the staged bench/gpu/summary.js failed"

{
  echo "rcae GPU bundle"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm)"
  commit=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
  [ -z "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ] || commit="$commit (with uncommitted changes)"
  echo "commit: $commit"
  echo "node: $("$STAGE/node" --version) from $NODE_BIN"
  echo "files (bytes, path):"
  (cd "$STAGE" && find . -type f ! -name BUNDLE.txt -printf '%s %P\n' | sort -k2)
} > "$STAGE/BUNDLE.txt"

echo "== compress (xz -$XZ_LEVEL)"
tar -C "$WORK" --sort=name --owner=0 --group=0 --numeric-owner -I "xz -T2 -$XZ_LEVEL" -cf "$ARCHIVE.tmp" "$NAME"
mv "$ARCHIVE.tmp" "$ARCHIVE"
cp "$STAGE/BUNDLE.txt" "$OUT_DIR/BUNDLE.txt"

size=$(stat -c %s "$ARCHIVE")
staged=$(du -sb "$STAGE" | cut -f1)
awk -v a="$ARCHIVE" -v s="$size" -v u="$staged" 'BEGIN { printf "%s: %d bytes (%.1f MiB), %.1f MiB unpacked\n", a, s, s / 1048576, u / 1048576 }'
[ "$size" -lt "$LIMIT_BYTES" ] || fail "the bundle is $size bytes, over the 64 MiB limit"
# A device call carries the working tree (tracked and untracked, not ignored, files) besides .bundle/.
tree=$(cd "$ROOT" && git ls-files -co --exclude-standard -z 2>/dev/null | xargs -0 -r stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
awk -v s="$size" -v t="$tree" 'BEGIN { printf "with the working tree (%.1f MiB) a device call carries %.1f MiB of its 64\n", t / 1048576, (s + t) / 1048576 }'
[ $((size + tree)) -lt "$LIMIT_BYTES" ] || fail "the bundle and the working tree together take $((size + tree)) bytes, over the 64 MiB a device call carries (xz levels below 6 compress less: build at the default level)"
