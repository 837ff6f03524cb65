#!/bin/sh
# Runs t/unit/test-dns against the loopback DNS server serving
# t/data/dns/zone.json; the test program prints the closing line.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib/common.sh"

cp "$top_srcdir/t/data/dns/zone.json" "$T_TMP/zone.json"
t_dns_start "$T_TMP/zone.json"
# libunbound turns an upstream REFUSED into SERVFAIL; its own "refuse"
# local zone is what answers REFUSED.
{
	cat "$DNS_CONF"
	printf 'server:\n\tlocal-zone: "refuse.test." refuse\n'
} > "$T_TMP/dns-refuse.conf"
# DNSSEC: a zone signed with Debian's ldnsutils, served by libunbound
# itself (an auth-zone used as if it were upstream, so the validator
# checks it), the trust anchor given as dns.trust_anchor would give it.
# bad.sec.test's TXT is changed after signing: its signature fails.
sec=$T_TMP/sec
mkdir "$sec"
cat > "$sec/zone" <<'EOZ'
$ORIGIN sec.test.
$TTL 300
@ IN SOA ns.sec.test. hostmaster.sec.test. 1 3600 600 86400 60
@ IN NS ns.sec.test.
ns IN A 192.0.2.53
txt IN TXT "v=spf1 -all"
bad IN TXT "original"
EOZ
if ! command -v ldns-signzone >/dev/null; then
	echo "ldns-signzone missing (apt-get install ldnsutils)"
	exit 1
fi
(cd "$sec" && ksk=$(ldns-keygen -a ECDSAP256SHA256 -k sec.test) &&
    zsk=$(ldns-keygen -a ECDSAP256SHA256 sec.test) &&
    ldns-signzone -n zone "$ksk" "$zsk" && cp "$ksk.ds" ta.ds) ||
    { echo "cannot sign the test zone"; exit 1; }
sed -i 's/"original"/"tampered"/' "$sec/zone.signed"
cat > "$sec/unbound.conf" <<EOC
server:
	module-config: "validator iterator"
	local-zone: "test." nodefault
auth-zone:
	name: "sec.test."
	zonefile: "$sec/zone.signed"
	for-upstream: yes
	for-downstream: no
	fallback-enabled: no
EOC
"$top_builddir/t/unit/test-dns" "$DNS_CONF" "$T_TMP/dns.log" \
    "$T_TMP/dns-refuse.conf" "$sec/unbound.conf" "$sec/ta.ds"
exit $?
