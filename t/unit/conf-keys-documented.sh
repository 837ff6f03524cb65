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
	# The manual is clean under mandoc's linter where mandoc is installed.
if command -v mandoc > /dev/null 2>&1; then
	out=$(mandoc -Tlint -W warning "$MAN" 2>&1)
	t_eq "mandoc -Tlint -W warning man/authmilter.conf.5" "$out" ""
else
	echo "skip mandoc -Tlint: mandoc is not installed"
fi

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

# The manual is clean under mandoc's linter where mandoc is installed.
if command -v mandoc > /dev/null 2>&1; then
	out=$(mandoc -Tlint -W warning "$MAN" 2>&1)
	t_eq "mandoc -Tlint -W warning man/authmilter.conf.5" "$out" ""
else
	echo "skip mandoc -Tlint: mandoc is not installed"
fi

t_done
