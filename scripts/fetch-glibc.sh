#!/usr/bin/env bash
# Chroma's native server (chromadb-js-bindings-linux-x64-gnu) needs glibc >= 2.39.
# On an older glibc (Debian 12 ships 2.36) we fetch Debian 13's libc6 package from
# Debian's own archive into a private cache and start Chroma through its dynamic loader.
# Nothing on the system is changed: a private sources list and private apt state are used.
#
# Usage: scripts/fetch-glibc.sh [CACHE_DIR]   (default: .cache/glibc)
# Prints the folder holding ld-linux-x86-64.so.2, or nothing when the system glibc suffices.
set -euo pipefail

need_major=2 need_minor=39
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${1:-${HOTVEC_GLIBC_DIR:-$here/.cache/glibc}}
libdir="$cache/root/usr/lib/x86_64-linux-gnu"

sys=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
if [ -n "$sys" ]; then
  maj=${sys%%.*} min=${sys#*.}; min=${min%%.*}
  if [ "$maj" -gt "$need_major" ] || { [ "$maj" -eq "$need_major" ] && [ "$min" -ge "$need_minor" ]; }; then
    exit 0
  fi
fi
if [ "$(uname -m)" != "x86_64" ]; then
  echo "fetch-glibc: only x86_64 is handled (this is $(uname -m))" >&2
  exit 1
fi
if [ -x "$libdir/ld-linux-x86-64.so.2" ]; then
  echo "$libdir"; exit 0
fi

mkdir -p "$cache/apt/lists/partial" "$cache/apt/archives/partial" "$cache/debs"
cat > "$cache/apt/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
SRC
apt_opts=(
  -o "Dir::Etc::SourceList=$cache/apt/sources.list"
  -o "Dir::Etc::SourceParts=-"
  -o "Dir::State::Lists=$cache/apt/lists"
  -o "Dir::Cache::Archives=$cache/apt/archives"
  -o "Dir::State::Status=/dev/null"
  -o "APT::Get::List-Cleanup=0"
  -o "Debug::NoLocking=1"
)
echo "fetch-glibc: downloading Debian 13 libc6 into $cache (system glibc is $sys)" >&2
apt-get "${apt_opts[@]}" update -qq >&2
( cd "$cache/debs" && apt-get "${apt_opts[@]}" download libc6 >&2 )
deb=$(ls "$cache"/debs/libc6_*.deb | head -1)
rm -rf "$cache/root"; mkdir -p "$cache/root"
dpkg -x "$deb" "$cache/root"
[ -x "$libdir/ld-linux-x86-64.so.2" ] || { echo "fetch-glibc: unpacked $deb but found no loader" >&2; exit 1; }
echo "$libdir"
