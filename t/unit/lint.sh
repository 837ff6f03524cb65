#!/bin/sh
# Lint as tests: the library stays free of libmilter and syslog, every man
# page is clean under mandoc -Tlint, and the sample configuration passes
# authmilter -n.
. "$top_srcdir/t/lib/common.sh"

hits=$(grep -lE 'libmilter/mfapi\.h|[^_a-z]syslog *\(|<syslog\.h>' \
    "$top_srcdir"/milter/lib/*.c "$top_srcdir"/milter/lib/*.h 2>/dev/null)
t_eq "milter/lib has no libmilter or syslog" "$hits" ""

for page in "$top_srcdir"/man/*.[0-9]; do
	name=$(basename "$page")
	if ! command -v mandoc >/dev/null 2>&1; then
		t_fail "mandoc -Tlint $name" "mandoc is not installed (apt-get install mandoc)"
		continue
	fi
	# Style too, but not mandoc's "referenced manual not found": that
	# note depends on which packages' manuals this machine has (the
	# unbound.conf(5) page comes with the unbound server, which nothing
	# here needs), not on the page. Our own references are checked
	# below against man/; a stale system mandoc.db is not about the page
	# either.
	out=$(mandoc -Tlint -W style "$page" 2>&1 |
	    grep -v -e 'referenced manual not found: Xr ' \
		-e 'outdated mandoc.db')
	t_eq "mandoc -Tlint -W style $name" "$out" ""
	# Every .Xr to one of our pages names a page that man/ has.
	missing=$(sed -n 's/^\.Xr \(authmilter[^ ]*\) \([0-9]\).*/\1.\2/p' \
	    "$page" | sort -u | while read -r ref; do
		[ -f "$top_srcdir/man/$ref" ] || echo "$ref"
	done)
	t_eq "$name: our .Xr references exist in man/" "$missing" ""
done

# A copy in the test's own directory: -n reads the file again as the
# sample's user, who may not reach the source tree (a clone in /root).
cp "$top_srcdir/conf/authmilter.conf" "$T_TMP/authmilter.conf"
chmod 644 "$T_TMP/authmilter.conf"
out=$("$top_builddir/milter/authmilter" -n -c "$T_TMP/authmilter.conf" 2>&1)
t_eq "sample config passes authmilter -n" "$out" \
    "$T_TMP/authmilter.conf: configuration OK"

t_done
