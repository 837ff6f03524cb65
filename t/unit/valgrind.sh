#!/bin/sh
# valgrind-clean: the pure unit tests and one full message through
# authmilter-check (SPF, DKIM, DMARC over the loopback DNS server) run
# under memcheck with no error and no leak. Skipped (77) in the ASan and
# TSan builds, whose binaries valgrind cannot run.
. "$top_srcdir/t/lib/common.sh"

if ldd "$top_builddir/t/unit/test-base" 2>/dev/null | grep -q 'libasan\|libtsan'; then
	echo "SKIP: sanitizer build (ASan or TSan); valgrind runs in the normal build"
	exit 77
fi
if ! command -v valgrind >/dev/null 2>&1; then
	t_fail "valgrind is installed" "apt-get install valgrind"
	t_done
	exit 1
fi
vg() { # NAME INPUT COMMAND... (output in $T_TMP/vg.out)
	name=$1
	in=$2
	log=$T_TMP/vg.log
	shift 2
	if valgrind -q --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect \
	    --show-leak-kinds=definite,indirect --log-file="$log" \
	    "$@" < "$in" > "$T_TMP/vg.out" 2>&1 && [ ! -s "$log" ]; then
		t_ok "valgrind $name"
	else
		t_fail "valgrind $name" "$(head -n 40 "$log")" "$(tail -n 5 "$T_TMP/vg.out")"
	fi
}
for t in test-base test-hdr test-mailaddr test-authres test-conf test-dkim test-dmarc; do
	vg "$t" /dev/null "$top_builddir/t/unit/$t"
done

data=$top_srcdir/t/data/msgauth
t_dns_start "$data/zone.json"
mkdir -p "$T_TMP/keys"
cp "$data/s1.key" "$data/e1.key" "$T_TMP/keys/"
chmod 600 "$T_TMP/keys/"*.key
sed "s|@KEYDIR@|$T_TMP/keys|g" "$data/sign.conf" > "$T_TMP/sign.conf"
vg "authmilter-check sign" "$data/signed.src" \
    "$top_builddir/milter/authmilter-check" sign -c "$T_TMP/sign.conf"
cp "$T_TMP/vg.out" "$T_TMP/signed.eml"
vg "authmilter-check message" "$T_TMP/signed.eml" \
    "$top_builddir/milter/authmilter-check" message --ip 192.0.2.99 \
    --helo list.example --mail-from alice@bank.test --dns-conf "$DNS_CONF"
t_eq "the message checked under valgrind passed DMARC" \
    "$(grep -c 'dmarc=pass' "$T_TMP/vg.out")" 1
t_done
