#!/usr/bin/env bash
# Installs what the build needs (Debian 12 packages) and builds the FAISS C API
# from Debian's FAISS source package into the build tree.
#
# Idempotent: packages already installed are not touched, and the FAISS C API is
# rebuilt only when build/faiss/lib/libfaiss_c.a is missing. Needs root (or sudo)
# only when something must be installed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}

packages=(
  build-essential pkg-config
  libsqlite3-dev sqlite3            # store: metadata, chunks, FTS5
  libpq-dev                         # cluster mode: PostgreSQL as the shared store
  libfaiss-dev libopenblas-dev      # vector search, BLAS
  libcurl4-openssl-dev libssl-dev   # HTTP client; SHA-256
  libmicrohttpd-dev                 # HTTP server
  curl                              # the demo talks to ragd with it
  libcjson-dev                      # JSON
  libutf8proc-dev libpcre2-dev      # Unicode, tokenizer regexes
  libxml2-dev libzip-dev            # HTML, DOCX and the other zip-based office formats
  libcmark-gfm-dev libcmark-gfm-extensions-dev  # Markdown (CommonMark + GFM tables)
  libicu-dev                        # word and sentence boundaries
  libarchive-dev                    # archives (zip, tar) and compressed files
  libgmime-3.0-dev                  # email (.eml, mbox)
  libpoppler-glib-dev               # PDF (optional at build time: GPL)
  libtesseract-dev libleptonica-dev tesseract-ocr-eng  # OCR of images and scanned PDFs (optional at build time)
  dpkg-dev                          # 'apt-get source' unpacks with dpkg-source
  clang libclang-rt-14-dev          # sanitizer and fuzzing builds
  clang-format                      # make format-check (CI) and make format
)

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "deps: need root to run: $*" >&2; exit 1; fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "deps: all packages present"
fi

# --- FAISS C API --------------------------------------------------------------
# Debian ships libfaiss.a and the C++ headers but not the C API. Fetch the
# source package through a private apt configuration (the system's sources are
# left alone), compile c_api/ against the system's libfaiss, archive it.
# NDEBUG: without it the C API prints every exception to stderr on top of
# returning it (we report the error ourselves, once, naming the file).
faiss_lib=$build/faiss/lib/libfaiss_c.a
faiss_cxxflags="-std=c++17 -O2 -fPIC -w -DNDEBUG"
if [ -f "$faiss_lib" ] && [ "$(cat "$faiss_lib.flags" 2>/dev/null)" = "$faiss_cxxflags" ]; then
  echo "deps: FAISS C API present ($faiss_lib)"
  exit 0
fi

work=$build/faiss/src
rm -rf "$work"; mkdir -p "$work/lists/partial" "$build/faiss/lib" "$build/faiss/include"
. /etc/os-release
# The mirror this machine already uses for Debian's main archive (one-line or deb822 sources).
mirror=$( { awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; break } }' \
              /etc/apt/sources.list 2>/dev/null
            awk '$1 == "URIs:" { for (i = 2; i <= NF; i++) print $i }' /etc/apt/sources.list.d/*.sources 2>/dev/null
          } | grep -E '/debian/?$' | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
echo "deb-src $mirror $VERSION_CODENAME main" > "$work/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/nonexistent
          -o "Dir::State::Lists=$work/lists" -o Debug::NoLocking=1)
echo "deps: fetching Debian's faiss source package from $mirror"
(cd "$work" && apt-get "${apt_opts[@]}" update -q >/dev/null \
   && apt-get "${apt_opts[@]}" source -q --download-only faiss >/dev/null 2>&1)
orig=$(ls "$work"/faiss_*.orig.tar.* | head -n1)
mkdir -p "$work/faiss"
tar -xf "$orig" -C "$work/faiss" --strip-components=1

echo "deps: compiling the FAISS C API"
objs=()
for f in "$work"/faiss/c_api/*.cpp "$work"/faiss/c_api/impl/*.cpp "$work"/faiss/c_api/utils/*.cpp; do
  [ -f "$f" ] || continue
  o=$work/obj/$(basename "${f%.cpp}").o
  mkdir -p "$work/obj"
  g++ $faiss_cxxflags -I"$work/faiss" -c "$f" -o "$o"
  objs+=("$o")
done
ar rcs "$faiss_lib.tmp" "${objs[@]}" && mv "$faiss_lib.tmp" "$faiss_lib"
echo "$faiss_cxxflags" > "$faiss_lib.flags"
# Public C headers keep their c_api/ layout: #include <faiss/c_api/Index_c.h>
mkdir -p "$build/faiss/include/faiss/c_api"
(cd "$work/faiss/c_api" && find . -name '*.h' -exec cp --parents {} "$build/faiss/include/faiss/c_api/" \;)
rm -rf "$work/obj"
echo "deps: built $faiss_lib"
