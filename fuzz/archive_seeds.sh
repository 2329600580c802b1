#!/bin/sh
# fuzz/archive_seeds.sh DIR: small seeds for fuzz/fuzz_archive.c: a zip, a
# tar, a tar.gz, and gzip, bzip2, xz and zstd files (those whose tool is
# installed), each holding a few short text members.
set -e
d=$1; mkdir -p "$d"; t=$(mktemp -d)
mkdir -p "$t/src/dir"
printf '# Title\n\nSome text.\n' > "$t/src/dir/a.md"
printf 'plain text\n' > "$t/src/b.txt"
tar cf "$d/seed.tar" -C "$t/src" .
gzip -c "$d/seed.tar" > "$d/seed.tar.gz"
gzip -c "$t/src/b.txt" > "$d/seed.gz"
for z in bzip2 xz zstd; do
  if command -v $z >/dev/null 2>&1; then $z -c "$t/src/b.txt" > "$d/seed.$z"; fi
done
python3 - "$d/seed.zip" "$t/src" <<'EOF'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    for r, ds, fs in os.walk(sys.argv[2]):
        for f in fs:
            p = os.path.join(r, f)
            z.write(p, os.path.relpath(p, sys.argv[2]))
EOF
rm -r "$t"
