# tests/integration/first_run.sh: the README's first command, `make demo`,
# in a fresh copy of this tree on a machine where the build's packages are
# not installed yet: a pkg-config on PATH finds nothing until the setup step
# (scripts/deps.sh, which asks dpkg-query what is installed) has run. A
# Makefile that reads pkg-config before it installs builds without the
# packages' flags and fails; this one must pass the first time.
#
# The copy gets this tree's build/faiss (what `make deps` builds from
# Debian's source package): rebuilding it would only test the network.
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)

if [ ! -f "$top/build/faiss/lib/libfaiss_c.a" ] || ! command -v git >/dev/null || ! git -C "$top" rev-parse 2>/dev/null; then
  if [ "${CI:-}" = true ]; then fail "first_run needs git and build/faiss (make deps)"
  else echo "SKIP: first_run needs a git checkout with build/faiss (make deps)"; fi
  finish; exit
fi

# The tree as git sees it (committed and untracked-but-not-ignored files),
# without build outputs, as a fresh clone would have it.
copy=$T/fresh
mkdir -p "$copy/build"
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
   xargs -0 -I{} sh -c '[ -e "{}" ] && printf "%s\0" "{}"' | tar --null -T - -cf -) | tar -C "$copy" -xf -
cp -a "$top/build/faiss" "$copy/build/faiss"

# pkg-config that knows nothing until dpkg-query has been asked (setup ran).
fake=$T/fakebin
stamp=$T/setup-ran
mkdir -p "$fake"
real_pkg=$(command -v pkg-config) real_dpkg=$(command -v dpkg-query)
cat > "$fake/pkg-config" <<EOF
#!/bin/sh
[ -e "$stamp" ] && exec "$real_pkg" "\$@"
exit 1
EOF
cat > "$fake/dpkg-query" <<EOF
#!/bin/sh
: > "$stamp"
exec "$real_dpkg" "\$@"
EOF
chmod +x "$fake/pkg-config" "$fake/dpkg-query"

# make as a new user runs it: nothing of the make (or the test run) this
# test runs under, such as `make asan`'s BUILD, SAN and OPT, passed down.
fresh_make() {
  timeout 900 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD -u SAN -u OPT -u WERROR PATH="$fake:$PATH" make "$@"
}

# Without the setup step, a build says what is missing and what to run.
out=$(fresh_make -C "$copy" all 2>&1); rc=$?
check "a build before the setup step fails" test $rc -ne 0
check_contains "... naming the packages and 'make deps'" "$out" "run 'make deps' first"
check_contains "... before compiling anything" "$out" "pkg-config finds no"
check_not_contains "... not at a missing header" "$out" "No such file or directory"

# make demo: setup, build and the demo itself, in one command.
out=$(cd "$copy" && RAG_LOG=warn fresh_make -j2 demo 2>&1); rc=$?
check_eq "make demo passes the first time" "$rc" 0
[ $rc -eq 0 ] || printf '%s\n' "$out" | tail -n 30 | sed 's/^/      /'
check "the setup step ran" test -e "$stamp"
check "it built rag and ragd" test -x "$copy/build/rag" -a -x "$copy/build/ragd"
check_contains "the demo asked as operations" "$out" "rag ask --as staff,ops"
check_contains "... and over HTTP with finance's key" "$out" "finance's key:"
check_contains "... whose answer cites a finance document" "$out" "cites finance/"
check_contains "... and operations' answer an ops document" "$out" "cites ops/"
finish
