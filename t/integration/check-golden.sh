#!/bin/sh
# Golden files: authmilter-check message < t/data/msgauth/NAME.eml, with
# the options in NAME.args (and -c NAME.conf when there is one), must
# print exactly NAME.ref. NAME.src files are
# signed first (authmilter-check sign, keys in t/data/msgauth) and
# "tampered" is changed after signing. Set UPDATE_REFS=1 to rewrite the
# .ref files (then read every diff before committing them).
. "$top_srcdir/t/lib/common.sh"

data=$top_srcdir/t/data/msgauth
check=$top_builddir/milter/authmilter-check
now=1795000000

t_dns_start "$data/zone.json"
mkdir -p "$T_TMP/keys"
cp "$data/s1.key" "$data/e1.key" "$T_TMP/keys/"
chmod 600 "$T_TMP/keys/"*.key
sed "s|@KEYDIR@|$T_TMP/keys|g" "$data/sign.conf" > "$T_TMP/sign.conf"

for src in "$data"/*.src; do
	name=$(basename "$src" .src)
	if ! "$check" sign -c "$T_TMP/sign.conf" --now $now \
	    --dns-conf "$DNS_CONF" < "$src" > "$T_TMP/$name.eml"; then
		t_fail "sign $name"
		continue
	fi
	t_ok "sign $name"
done
# One byte of the signed body changed: every signature must fail.
sed -i 's/ready/READY/' "$T_TMP/tampered.eml"

for args in "$data"/*.args; do
	name=$(basename "$args" .args)
	eml=$data/$name.eml
	[ -f "$eml" ] || eml=$T_TMP/$name.eml
	[ -f "$data/$name.conf" ] && set -- -c "$data/$name.conf" || set --
	# shellcheck disable=SC2046
	"$check" message "$@" $(cat "$args") --dns-conf "$DNS_CONF" \
	    --dns-timeout 2 --authserv-id mx.test --now $now < "$eml" \
	    > "$T_TMP/$name.out" 2>&1
	if [ -n "${UPDATE_REFS:-}" ]; then
		cp "$T_TMP/$name.out" "$data/$name.ref"
	fi
	if diff -u "$data/$name.ref" "$T_TMP/$name.out" > "$T_TMP/$name.diff"; then
		t_ok "golden $name"
	else
		t_fail "golden $name" "$(cat "$T_TMP/$name.diff")"
	fi
done
t_done
