#!/bin/sh
# make install into a DESTDIR: the systemd unit carries configure's paths,
# the sample becomes the configuration, a second install keeps an edited
# configuration, and uninstall removes the configuration only while it is
# still the sample.
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

if inst install; then t_ok "make install"; else t_fail "make install" "$(cat "$T_TMP/make.out")"; fi
t_eq "the sample is the configuration" \
    "$(cmp "$top_srcdir/conf/authmilter.conf" "$conf" 2>&1 && echo same)" same
t_eq "the unit runs the installed daemon on the installed configuration" \
    "$(grep '^ExecStart=' "$unit" 2>&1)" \
    "ExecStart=$sbindir/authmilter -f -c $sysconfdir/authmilter/authmilter.conf"
t_eq "the unit has no placeholder left" "$(grep -c '@[a-z]*dir@' "$unit")" 0
t_eq "the unit's configuration directory" \
    "$(grep '^ReadOnlyPaths=' "$unit")" "ReadOnlyPaths=$sysconfdir/authmilter"

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
