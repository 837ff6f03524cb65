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
	# Style too; our own pages are not installed yet, and the system's
	# mandoc.db may be stale: those two notes are not about the page.
	out=$(mandoc -Tlint -W style "$page" 2>&1 |
	    grep -v -e 'referenced manual not found: Xr authmilter' \
		-e 'outdated mandoc.db')
	t_eq "mandoc -Tlint -W style $name" "$out" ""
done

out=$("$top_builddir/milter/authmilter" -n -c "$top_srcdir/conf/authmilter.conf" 2>&1)
t_eq "sample config passes authmilter -n" "$out" \
    "$top_srcdir/conf/authmilter.conf: configuration OK"

t_done
