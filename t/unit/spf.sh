#!/bin/sh
# Runs t/unit/test-spf against the loopback DNS server serving
# t/data/spf/zone.json: the check_host() cases through the real libunbound
# path (the pure cases run as well). Then `authmilter-check spf` against
# the same zone: --mail-from is taken as msgauth_mailfrom() takes an MTA's
# MAIL FROM (RFC 5321 path, angle brackets optional).
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib/common.sh"

cp "$top_srcdir/t/data/spf/zone.json" "$T_TMP/zone.json"
t_dns_start "$T_TMP/zone.json"
# The PTR-limit cases name the 11th PTR record of an answer: keep the
# server's order (libunbound rotates RRsets by default).
printf 'server:\n\trrset-roundrobin: no\n' >> "$DNS_CONF"
# The time-limit cases answer 0.6 s late: libunbound must not give up on
# the server (and resend) before that.
printf '\tinfra-cache-min-rtt: 2000\n' >> "$DNS_CONF"
"$top_builddir/t/unit/test-spf" "$DNS_CONF" "$T_TMP/dns.log" > "$T_TMP/unit.out"
rc=$?
cat "$T_TMP/unit.out"
# Carry test-spf's closing "N passed, N failed" into this script's.
last=$(tail -n 1 "$T_TMP/unit.out")
case $last in
*" passed, "*" failed")
	T_PASSED=${last%% *}
	rest=${last#* passed, }
	T_FAILED=${rest%% *}
	;;
esac
[ "$rc" -eq 0 ] || [ "$T_FAILED" -gt 0 ] || T_FAILED=1

# check_spf IP MAIL-FROM HELO: the output of authmilter-check spf, one line.
check_spf() {
	"$top_builddir/milter/authmilter-check" spf --ip "$1" \
	    --mail-from "$2" --helo "$3" --dns-conf "$DNS_CONF" 2>&1 |
	    tr '\n' '|'
}
t_eq "check spf: bare address" \
    "$(check_spf 192.0.2.1 postmaster@simple.example.test mail.example.test)" \
    "pass|"
t_eq "check spf: address in angle brackets" \
    "$(check_spf 192.0.2.1 '<postmaster@simple.example.test>' mail.example.test)" \
    "pass|"
t_eq "check spf: angle brackets, fail with the local-part in %{l}" \
    "$(check_spf 198.51.100.1 '<Joe.User@simple.example.test>' mail.example.test)" \
    "fail|explanation: Joe.User is not allowed from 198.51.100.1 for simple.example.test|"
t_eq "check spf: domain in its normal form" \
    "$(check_spf 192.0.2.1 '<a@SIMPLE.Example.Test.>' mail.example.test)" \
    "pass|"
t_eq "check spf: source route ignored" \
    "$(check_spf 192.0.2.1 '<@relay.example.test:a@simple.example.test>' mail.example.test)" \
    "pass|"
t_eq "check spf: null path checks postmaster@HELO" \
    "$(check_spf 192.0.2.9 '<>' helo.example.test)" \
    "pass|"
t_eq "check spf: empty path checks postmaster@HELO" \
    "$(check_spf 192.0.2.9 '' helo.example.test)" \
    "pass|"
# A path that is not the null path but has no usable domain is "none"
# (RFC 7208 4.3), not postmaster@HELO (that is for the null path, 2.4).
t_eq "check spf: a path without a domain is none" \
    "$(check_spf 192.0.2.9 '<postmaster>' helo.example.test)" \
    "authmilter-check: no usable domain in --mail-from <postmaster>|none|"
t_eq "check spf: a domain literal is none" \
    "$(check_spf 192.0.2.9 '<a@[192.0.2.9]>' HELO.Example.Test.)" \
    "authmilter-check: no usable domain in --mail-from <a@[192.0.2.9]>|none|"
t_eq "check spf: a malformed path is none" \
    "$(check_spf 192.0.2.9 '<a@nonexistent.example.test' helo.example.test)" \
    "authmilter-check: no usable domain in --mail-from <a@nonexistent.example.test|none|"
t_eq "check spf: null path and an address-literal HELO" \
    "$(check_spf 192.0.2.9 '<>' '[192.0.2.9]')" \
    "authmilter-check: no usable domain in --mail-from or --helo|none|"
t_done
