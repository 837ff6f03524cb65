#!/bin/sh
# make install into a DESTDIR: the systemd units (the daemon's; the
# aggregate reports' service and daily timer) carry configure's paths and
# pass systemd-analyze verify, the sample becomes the configuration, a
# second install keeps an edited configuration, and uninstall removes the
# configuration only while it is still the sample.
. "$top_srcdir/t/lib/common.sh"

D=$T_TMP/dest
# A make of its own, not a part of make check's (its flags and jobserver).
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory \
	    -C "$top_builddir" "$@"
}
inst() {
	mk "$1" DESTDIR="$D" >"$T_TMP/make.out" 2>&1
}
v() { # a make variable of the build, as configure set it
	mk -f Makefile -f - print <<X 2>/dev/null
print: ; @echo \$($1)
X
}
sbindir=$(v sbindir) sysconfdir=$(v sysconfdir) unitdir=$(v systemdsystemunitdir)
conf=$D$sysconfdir/authmilter/authmilter.conf
unit=$D$unitdir/authmilter.service
runit=$D$unitdir/authmilter-report.service
timer=$D$unitdir/authmilter-report.timer

if inst install; then t_ok "make install"; else t_fail "make install" "$(cat "$T_TMP/make.out")"; fi
t_eq "the sample is the configuration" \
    "$(cmp "$top_srcdir/conf/authmilter.conf" "$conf" 2>&1 && echo same)" same
t_eq "the unit runs the installed daemon on the installed configuration" \
    "$(grep '^ExecStart=' "$unit" 2>&1)" \
    "ExecStart=$sbindir/authmilter -f -c $sysconfdir/authmilter/authmilter.conf"
t_eq "the unit has no placeholder left" "$(grep -c '@[a-z]*dir@' "$unit")" 0
t_eq "the unit's configuration directory" \
    "$(grep '^ReadOnlyPaths=' "$unit")" "ReadOnlyPaths=$sysconfdir/authmilter"

# The reports: a oneshot real send (no --dry-run) as the daemon's user,
# on the daemon's store, daily after the UTC day has ended.
t_eq "the report unit sends with the installed tool and configuration" \
    "$(grep '^ExecStart' "$runit" 2>&1)" \
    "ExecStart=$sbindir/authmilter-report -c $sysconfdir/authmilter/authmilter.conf send"
t_eq "the report unit has no placeholder left" "$(grep -c '@[a-z]*dir@' "$runit")" 0
t_eq "the report unit: oneshot, the daemon's user, its state directory" \
    "$(grep -E '^(Type|User|Group|StateDirectory|ReadOnlyPaths)=' "$runit")" \
    "Type=oneshot
User=authmilter
Group=authmilter
StateDirectory=authmilter
ReadOnlyPaths=$sysconfdir/authmilter"
t_eq "the daemon's unit: the same user and state directory" \
    "$(grep -E '^(User|Group|StateDirectory)=' "$unit")" \
    "User=authmilter
Group=authmilter
StateDirectory=authmilter"
t_eq "the timer is the source's" \
    "$(cmp "$top_srcdir/contrib/authmilter-report.timer" "$timer" 2>&1 && echo same)" same
t_eq "the timer: daily after the UTC day, spread, caught up after downtime" \
    "$(sed -n '/^\[Timer\]/,/^\[/p' "$timer" | grep '=')" \
    "OnCalendar=*-*-* 00:20:00 UTC
RandomizedDelaySec=30min
Persistent=true"
t_eq "the timer is enabled by timers.target" "$(grep '^WantedBy=' "$timer")" \
    "WantedBy=timers.target"

# systemd's own check of the installed units: with the programs' paths
# pointed at the DESTDIR copies (verify checks that they are executable)
# and without the man-page check (the pages are not in MANPATH here).
# verify exits 0 on an unknown key or a bad value, so nothing may be said.
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$T_TMP/units"
	for f in "$unit" "$runit" "$timer"; do
		sed "s|=$sbindir/|=$D$sbindir/|" "$f" > "$T_TMP/units/${f##*/}"
	done
	out=$(cd "$T_TMP/units" && systemd-analyze verify --man=no \
	    ./authmilter.service ./authmilter-report.service \
	    ./authmilter-report.timer 2>&1)
	t_eq "systemd-analyze verify: the three units, nothing to say" "$? $out" "0 "
	sed -i 's/^OnCalendar=.*/OnCalendar=*-*-* 25:00:00 UTC/' \
	    "$T_TMP/units/authmilter-report.timer"
	out=$(cd "$T_TMP/units" && systemd-analyze verify --man=no \
	    ./authmilter-report.timer 2>&1)
	t_eq "  ... and it does refuse an hour 25" "$? $(printf '%s\n' "$out" |
	    grep -c 'timer:[0-9]*: Failed to parse calendar specification')" "1 1"
else
	t_skip "systemd-analyze verify" "systemd-analyze is not installed (Debian: systemd)"
fi

echo "# edited" >>"$conf"
inst install
t_eq "a second install keeps an edited configuration" "$(tail -n 1 "$conf")" "# edited"
t_eq "and says so" "$(grep -c 'exists: kept' "$T_TMP/make.out")" 1
inst uninstall
t_eq "uninstall keeps an edited configuration" "$(tail -n 1 "$conf")" "# edited"
rm -f "$conf"
inst install
inst uninstall
t_eq "uninstall removes an unedited one and leaves no file" \
    "$(find "$D" -type f | sed "s|^$D||")" ""
t_done
