#!/bin/sh
# Lint: every key the config parser accepts (the tables in
# milter/lib/conf.c, listed by "test-conf --list-keys") has an item
# ".It Cm dotted.path" in man/authmilter.conf.5 and a "name =" or "name:"
# line (perhaps commented out) in the sample conf/authmilter.conf; and
# every such item in the manual is a key the parser accepts; and the
# manual is clean under mandoc -Tlint.
. "$(dirname "$0")/../lib/common.sh"

MAN=$top_srcdir/man/authmilter.conf.5
SAMPLE=$top_srcdir/conf/authmilter.conf
LIST=$top_builddir/t/unit/test-conf

if ! "$LIST" --list-keys > "$T_TMP/keys" || [ ! -s "$T_TMP/keys" ]; then
	t_fail "test-conf --list-keys lists the keys"
	t_done
	exit 1
fi
t_ok "test-conf --list-keys lists $(wc -l < "$T_TMP/keys") keys"

grep '^\.It Cm ' "$MAN" | awk '{ print $3 }' > "$T_TMP/documented"

while read -r key; do
	leaf=${key##*.}
	if grep -qxF "$key" "$T_TMP/documented"; then
		t_ok "man page documents $key"
	else
		t_fail "man page documents $key" \
		    "no \".It Cm $key\" in man/authmilter.conf.5"
	fi
	if grep -qE "(^|[[:space:]{;#(])$leaf[[:space:]]*[=:]" "$SAMPLE"; then
		t_ok "sample shows $key"
	else
		t_fail "sample shows $key" \
		    "no \"$leaf =\" or \"$leaf:\" in conf/authmilter.conf"
	fi
done < "$T_TMP/keys"

while read -r key; do
	if grep -qxF "$key" "$T_TMP/keys"; then
		t_ok "documented key $key is accepted"
	else
		t_fail "documented key $key is accepted" \
		    "man/authmilter.conf.5 has \".It Cm $key\"; conf.c has no such key"
	fi
done < "$T_TMP/documented"

# Every numeric limit that the manual or the sample states is what
# authmilter -n enforces: each bound is accepted and the value just past it
# refused with a message naming the key. A numeric key whose manual entry
# states no range fails (conf-ranges.py prints "?" for it).
AM=$top_builddir/milter/authmilter
# conf_one KEY VALUE: a config setting only KEY (a.b.c -> a: { b: { c } }),
# and in the reports group the keys it requires, with a store that -n can
# open as the daemon's user.
mkdir -p "$T_TMP/rdb" && chmod 777 "$T_TMP/rdb"
conf_one() {
	echo "$1" | awk -v v="$2" -v db="$T_TMP/rdb/r.db" -F. '{
		for (i = 1; i < NF; i++) printf "%s: { ", $i
		if ($1 == "reports")
			printf "org_name = \"T\"; from = \"r@example.net\"; " \
			    "store = \"sqlite:%s\"; ", db
		printf "%s = %s;", $NF, v
		for (i = 1; i < NF; i++) printf " };"
		print ""
	}' > "$T_TMP/range.conf"
	# -n also checks the user the daemon runs as: one that exists.
	echo 'user = "nobody";' >> "$T_TMP/range.conf"
}
# probe NAME KEY VALUE ok|refused
probe() {
	conf_one "$2" "$3"
	out=$("$AM" -n -c "$T_TMP/range.conf" 2>&1)
	rc=$?
	# A reports group without a signing table: its one warning.
	warned=
	case $2 in reports.*) warned="$T_TMP/range.conf:1: warning: reports.from r@example.net has no signing-table row: authmilter-report sends no report unsigned (it would fail DMARC at receivers)
" ;; esac
	if [ "$4" = ok ]; then
		t_eq "$1: $2 = $3 accepted" "$rc $out" \
		    "0 $warned$T_TMP/range.conf: configuration OK"
	elif [ "$rc" -eq 2 ] && echo "$out" | grep -qF "$2"; then
		t_ok "$1: $2 = $3 refused"
	else
		t_fail "$1: $2 = $3 refused" "got: $rc $out"
	fi
}
"$PY" "$top_srcdir/t/unit/conf-ranges.py" "$MAN" "$SAMPLE" > "$T_TMP/ranges" ||
    t_fail "conf-ranges.py reads the manual and the sample"
[ -s "$T_TMP/ranges" ] || t_fail "the manual states numeric limits"
while read -r key type lo hi where; do
	if [ "$lo" = "?" ]; then
		t_fail "$where: $key states its range" \
		    "no \"from A to B\", \"at least\" or \"at most\" in its entry"
		continue
	fi
	where=${where#"$top_srcdir"/}
	if [ "$type" = integer ]; then
		[ "$lo" = - ] || below=$((lo - 1))
		[ "$hi" = - ] || above=$((hi + 1))
	else
		# A number: a tenth of the bound past it (0.1 -> 0.09, 60 -> 66).
		below=$(awk -v x="$lo" 'BEGIN { printf "%g", x * 0.9 }')
		above=$(awk -v x="$hi" 'BEGIN { printf "%g", x * 1.1 }')
		# "-" stays as it is: that bound is not stated.
		case $lo in *.*) ;; *) lo=$lo.0 ;; esac
		case $hi in *.*) ;; *) hi=$hi.0 ;; esac
		case $below in *.*) ;; *) below=$below.0 ;; esac
		case $above in *.*) ;; *) above=$above.0 ;; esac
	fi
	if [ "$lo" != - ]; then
		probe "$where" "$key" "$lo" ok
		probe "$where" "$key" "$below" refused
	fi
	if [ "$hi" != - ]; then
		probe "$where" "$key" "$hi" ok
		probe "$where" "$key" "$above" refused
	fi
done < "$T_TMP/ranges"

# The manual is clean under mandoc's linter (contrib/setup.sh installs
# mandoc).
if command -v mandoc > /dev/null 2>&1; then
	out=$(mandoc -Tlint -W warning "$MAN" 2>&1)
	t_eq "mandoc -Tlint -W warning man/authmilter.conf.5" "$out" ""
else
	t_fail "mandoc -Tlint -W warning man/authmilter.conf.5" \
	    "mandoc is not installed (apt-get install mandoc)"
fi

t_done
