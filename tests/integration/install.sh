#!/usr/bin/env bash
# make install / make uninstall into a staging tree (DESTDIR), as a package
# build or each machine of a cluster would run them: every file where the
# README says, with its mode; the systemd units name the installed programs
# and configs; a config already there and edited is never overwritten; the
# installed programs run and accept the installed configs; uninstall leaves
# no file of ours but the edited config. The programs are the existing build
# (make -o: taken as they are, never rebuilt), so this takes a second or two.
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${BUILD:-build}
D=$T/root
if [ ! -x "$top/$B/rag" ] && [ ! -x "$B/rag" ]; then
  fail "no built programs in $B: run make first"; finish; exit
fi
# mk DESTDIR ARGS...: make in the tree with the existing programs
mk() {
  local d=$1; shift
  make -s -C "$top" BUILD="$B" -o "$B/rag" -o "$B/ragd" DESTDIR="$d" "$@" 2>&1
}
# ran DESC: passes when the last mk exited 0; otherwise shows its output
ran() { check_eq "$1" $rc 0; [ $rc -eq 0 ] || printf '%s\n' "$out" | sed 's/^/      /'; }
mode() { stat -c %a "$1" 2>/dev/null || echo missing; }
files() { (cd "$1" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' '); }

# ---- PREFIX=/usr: a package's layout ----------------------------------------
out=$(mk "$D" PREFIX=/usr install); rc=$?
ran "make install DESTDIR=... PREFIX=/usr succeeds"
check_eq "it installs these files and no others" "$(files "$D")" \
  "etc/rag/rag.conf etc/rag/ragd.conf usr/bin/rag usr/bin/ragd usr/lib/systemd/system/rag-worker.service usr/lib/systemd/system/ragd.service usr/lib/sysusers.d/rag.conf "
for f in usr/bin/rag usr/bin/ragd; do
  check_eq "$f: mode 755" "$(mode "$D/$f")" 755
done
for f in etc/rag/rag.conf etc/rag/ragd.conf usr/lib/systemd/system/ragd.service \
         usr/lib/systemd/system/rag-worker.service usr/lib/sysusers.d/rag.conf; do
  check_eq "$f: mode 644" "$(mode "$D/$f")" 644
done
check "usr/bin/rag is the program built, as built" cmp -s "$D/usr/bin/rag" "$RAG_BIN"
check "usr/bin/ragd is the daemon built" cmp -s "$D/usr/bin/ragd" "$RAGD_BIN"
check "etc/rag/rag.conf is the example" cmp -s "$D/etc/rag/rag.conf" "$top/etc/rag.conf"
check "etc/rag/ragd.conf is the example" cmp -s "$D/etc/rag/ragd.conf" "$top/etc/ragd.conf"
check_contains "the sysusers file creates the user rag" "$(cat "$D/usr/lib/sysusers.d/rag.conf")" "u rag - "

# the units: placeholders filled in, naming what was installed
U=$D/usr/lib/systemd/system
check_eq "no @PLACEHOLDER@ is left in the units" "$(cat "$U"/*.service | grep -c '@[A-Z]*@')" 0
check_eq "ragd.service runs the installed ragd with the installed config" \
  "$(grep '^ExecStart=' "$U/ragd.service")" "ExecStart=/usr/bin/ragd --config /etc/rag/ragd.conf"
check_eq "rag-worker.service runs rag worker with the installed config" \
  "$(grep '^ExecStart=' "$U/rag-worker.service")" "ExecStart=/usr/bin/rag worker --config /etc/rag/rag.conf"
check_eq "rag-worker.service reads the database URL from an optional rag.env" \
  "$(grep '^EnvironmentFile=' "$U/rag-worker.service")" "EnvironmentFile=-/etc/rag/rag.env"
for u in ragd rag-worker; do
  exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$U/$u.service")
  conf=$(sed -n 's/^ExecStart=.* --config \([^ ]*\).*/\1/p' "$U/$u.service")
  check "$u.service: its program $exe is installed" test -x "$D$exe"
  check "$u.service: its config $conf is installed" test -f "$D$conf"
  for key in 'User=rag' 'StateDirectory=rag' 'Restart=on-failure' 'NoNewPrivileges=true' \
             'ProtectSystem=strict' 'ProtectHome=true' 'PrivateTmp=true' 'ReadWritePaths=/var/lib/rag'; do
    check "$u.service has $key" grep -qx "$key" "$U/$u.service"
  done
done

# systemd's own check: directives it knows, programs that exist (pointed at
# the staging tree, where they are installed)
if command -v systemd-analyze >/dev/null; then
  mkdir -p $T/verify
  for u in ragd rag-worker; do
    sed "s|^ExecStart=/usr/bin/|ExecStart=$D/usr/bin/|" "$U/$u.service" > $T/verify/$u.service
  done
  out=$(systemd-analyze verify $T/verify/ragd.service $T/verify/rag-worker.service 2>&1); rc=$?
  check_eq "systemd-analyze verify: both units, no complaint" "$rc:$out" "0:"
else
  echo "SKIP: no systemd-analyze: the units are not verified by systemd"
fi

# the installed programs run, and accept the installed configs as they are
out=$("$D/usr/bin/rag" --help 2>&1); rc=$?
check_eq "the installed rag --help runs" $rc 0
check_contains "... and prints the usage" "$out" "usage: rag COMMAND"
out=$("$D/usr/bin/ragd" --help 2>&1); rc=$?
check_eq "the installed ragd --help runs" $rc 0
out=$("$D/usr/bin/ragd" --config "$D/etc/rag/ragd.conf" --print-config 2>&1); rc=$?
ran "ragd accepts the installed ragd.conf"
check_contains "... listening on loopback by default" "$out" "127.0.0.1:8080"
out=$("$D/usr/bin/rag" config --config "$D/etc/rag/rag.conf" 2>&1); rc=$?
ran "rag accepts the installed rag.conf"

# ---- a second install: an edited config stays ---------------------------------
printf '\n# edited by the administrator\n[search]\nk = 7\n' >> "$D/etc/rag/rag.conf"
cp "$D/etc/rag/rag.conf" $T/edited.conf
out=$(mk "$D" PREFIX=/usr install); rc=$?
ran "a second make install succeeds"
check "the edited rag.conf is not overwritten" cmp -s "$D/etc/rag/rag.conf" $T/edited.conf
check "the new example goes beside it as rag.conf.dist" cmp -s "$D/etc/rag/rag.conf.dist" "$top/etc/rag.conf"
check_contains "install says so" "$out" "rag.conf: it differs from the example"
check "the unchanged ragd.conf gets no .dist" test ! -e "$D/etc/rag/ragd.conf.dist"
check "ragd.conf is still the example" cmp -s "$D/etc/rag/ragd.conf" "$top/etc/ragd.conf"

# ---- uninstall: nothing of ours is left, the edited config is ----------------
touch "$D/etc/rag/rag.env"  # the administrator's: never ours to remove
out=$(mk "$D" PREFIX=/usr uninstall); rc=$?
ran "make uninstall succeeds"
check_eq "it leaves only the administrator's files" "$(files "$D")" "etc/rag/rag.conf etc/rag/rag.env "
check "the edited rag.conf is kept as it was" cmp -s "$D/etc/rag/rag.conf" $T/edited.conf
check_contains "uninstall says it kept it" "$out" "rag.conf: edited"
out=$(mk "$D" PREFIX=/usr uninstall); rc=$?
ran "a second make uninstall is harmless"

# ---- the default PREFIX=/usr/local: units and sysusers go under /etc ---------
L=$T/local
out=$(mk "$L" install); rc=$?
ran "make install DESTDIR=... (PREFIX /usr/local) succeeds"
check_eq "it installs under /usr/local and /etc" "$(files "$L")" \
  "etc/rag/rag.conf etc/rag/ragd.conf etc/systemd/system/rag-worker.service etc/systemd/system/ragd.service etc/sysusers.d/rag.conf usr/local/bin/rag usr/local/bin/ragd "
check_eq "ragd.service names /usr/local/bin/ragd" \
  "$(grep '^ExecStart=' "$L/etc/systemd/system/ragd.service")" "ExecStart=/usr/local/bin/ragd --config /etc/rag/ragd.conf"
out=$(mk "$L" SYSTEMD_UNIT_DIR=/opt/units install); rc=$?
ran "make install SYSTEMD_UNIT_DIR=/opt/units succeeds"
check "SYSTEMD_UNIT_DIR puts the units elsewhere" test -f "$L/opt/units/ragd.service"
mk "$L" SYSTEMD_UNIT_DIR=/opt/units uninstall >/dev/null
out=$(mk "$L" uninstall); rc=$?
ran "make uninstall (PREFIX /usr/local) succeeds"
check_eq "it leaves no file" "$(files "$L")" ""
finish
