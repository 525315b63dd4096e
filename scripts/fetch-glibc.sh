#!/usr/bin/env bash
# Chroma's native server (chromadb-js-bindings-linux-x64-gnu) needs glibc >= 2.39.
# On an older glibc (Debian 12 ships 2.36) we fetch Debian 13's libc6 package from the
# Debian archive this machine already uses into a private cache, and start Chroma through
# its dynamic loader. Nothing on the system is changed: a private sources list and private
# apt state are used.
#
# Usage: scripts/fetch-glibc.sh [CACHE_DIR]   (default: $HOTVEC_GLIBC_DIR or .cache/glibc)
# Prints the folder holding ld-linux-x86-64.so.2, or nothing when the system glibc suffices.
# Everything else goes to stderr, so callers can read the path from stdout.
#
# The archive is the one the system's apt sources name for the base suite (deb822
# /etc/apt/sources.list.d/*.sources first, then /etc/apt/sources.list), so a machine on a
# local mirror or proxy keeps using it. HOTVEC_DEBIAN_MIRROR=URI overrides that.
set -euo pipefail

need_major=2 need_minor=39
target_suite=trixie   # Debian 13: glibc 2.41
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${1:-${HOTVEC_GLIBC_DIR:-$here/.cache/glibc}}
libdir="$cache/root/usr/lib/x86_64-linux-gnu"
default_keyring=/usr/share/keyrings/debian-archive-keyring.gpg

fail() { echo "fetch-glibc: $*" >&2; exit 1; }

sys=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}' || true)
if [ -n "$sys" ]; then
  maj=${sys%%.*} min=${sys#*.}; min=${min%%.*}
  if [ "$maj" -gt "$need_major" ] || { [ "$maj" -eq "$need_major" ] && [ "$min" -ge "$need_minor" ]; }; then
    exit 0
  fi
else
  fail "this system has no glibc (getconf GNU_LIBC_VERSION failed); Chroma's server needs glibc >= $need_major.$need_minor"
fi
[ "$(uname -m)" = "x86_64" ] || fail "only x86_64 is handled (this is $(uname -m))"

if [ -x "$libdir/ld-linux-x86-64.so.2" ]; then
  echo "$libdir"; exit 0
fi

# --- where is the Debian archive? -------------------------------------------------------
os_id=$( . /etc/os-release 2>/dev/null && echo "${ID:-}")
base_suite=$( . /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
[ "$os_id" = "debian" ] || fail "this is not Debian (ID=${os_id:-unknown}); only Debian's archive is known to this script"
[ -n "$base_suite" ] || fail "/etc/os-release has no VERSION_CODENAME"

# Prints "URI KEYRING" of the first enabled deb822 entry whose Suites list the base suite.
find_deb822() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk -v suite="$base_suite" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " suite " ") && uri != "") {
          print uri, keyring; found = 1; exit
        }
        types = suites = uri = keyring = ""; enabled = "yes"
      }
      BEGIN { enabled = "yes" }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      {
        line = $0; key = line; sub(/:.*/, "", key); val = line; sub(/^[^:]*:[ \t]*/, "", val)
        key = tolower(key)
        if (key == "types") types = val
        else if (key == "suites") suites = val
        else if (key == "uris") { split(val, u, /[ \t]+/); uri = u[1] }
        else if (key == "signed-by" && val !~ /^-----/) keyring = val
        else if (key == "enabled") enabled = tolower(val)
      }
      END { if (!found) flush() }
    ' "$f"
  done | head -1
}

# Prints "URI KEYRING" from a one-line "deb [opts] URI suite components" entry.
find_one_line() {
  [ -r /etc/apt/sources.list ] || return 0
  awk -v suite="$base_suite" '
    /^[ \t]*deb[ \t]/ {
      line = $0; keyring = ""
      if (match(line, /\[[^]]*\]/)) {
        start = RSTART; len = RLENGTH
        opts = substr(line, start + 1, len - 2)
        line = substr(line, 1, start - 1) substr(line, start + len)
        if (match(opts, /signed-by=[^ ]+/)) keyring = substr(opts, RSTART + 10, RLENGTH - 10)
      }
      n = split(line, f, /[ \t]+/)
      if (n >= 3 && f[3] == suite) { print f[2], keyring; exit }
    }
  ' /etc/apt/sources.list
}

if [ -n "${HOTVEC_DEBIAN_MIRROR:-}" ]; then
  uri=$HOTVEC_DEBIAN_MIRROR keyring=""
else
  read -r uri keyring < <( { find_deb822; find_one_line; } | head -1 ) || true
fi
[ -n "${uri:-}" ] || fail "found no Debian archive for suite '$base_suite' in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list; set HOTVEC_DEBIAN_MIRROR to the archive URI (e.g. the URIs: value of your Debian main entry)"
keyring=${keyring:-$default_keyring}
[ -r "$keyring" ] || fail "the archive keyring $keyring is missing (install debian-archive-keyring)"

# --- fetch, serialised: concurrent starts share one cache --------------------------------
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -x "$libdir/ld-linux-x86-64.so.2" ]; then   # another run finished while we waited
  echo "$libdir"; exit 0
fi

mkdir -p "$cache/apt/lists/partial" "$cache/apt/archives/partial" "$cache/debs"
echo "deb [signed-by=$keyring] $uri $target_suite main" > "$cache/apt/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$cache/apt/sources.list"
  -o "Dir::Etc::SourceParts=-"
  -o "Dir::State::Lists=$cache/apt/lists"
  -o "Dir::Cache::Archives=$cache/apt/archives"
  -o "Dir::State::Status=/dev/null"
  -o "APT::Get::List-Cleanup=0"
  -o "Debug::NoLocking=1"
)
# As root, apt would hand the download to the _apt user, who cannot write into our cache.
[ "$(id -u)" = 0 ] && apt_opts+=(-o "APT::Sandbox::User=root")
echo "fetch-glibc: downloading Debian 13 libc6 from $uri into $cache (system glibc is $sys)" >&2
apt-get "${apt_opts[@]}" --error-on=any update -qq >&2 || fail "apt-get update against $uri ($target_suite) failed"
rm -f "$cache"/debs/libc6_*.deb
( cd "$cache/debs" && apt-get "${apt_opts[@]}" download libc6 >&2 ) || fail "apt-get download libc6 from $uri failed"
deb=$(ls "$cache"/debs/libc6_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "apt-get reported success but no libc6 .deb is in $cache/debs"

# Unpack beside the final folder and rename, so a half-unpacked root is never used.
tmp="$cache/root.tmp.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
dpkg -x "$deb" "$tmp"
[ -x "$tmp/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" ] || { rm -rf "$tmp"; fail "unpacked $deb but found no loader"; }
rm -rf "$cache/root"; mv "$tmp" "$cache/root"
echo "$libdir"
