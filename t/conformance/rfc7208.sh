#!/bin/sh
# The OpenSPF RFC 7208 suite (Debian's python3-spf) through the real
# libunbound path: t/conformance/rfc7208.py rewrites the loopback DNS
# server's zone per scenario and runs `authmilter-check spf` per test.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib/common.sh"

suite=/usr/share/doc/python3-spf/rfc7208-tests.yml.gz
check=${SPF_CHECK:-$top_builddir/milter/authmilter-check}
if [ ! -r "$suite" ]; then
	echo "no $suite: apt-get install python3-spf"
	exit 1
fi
echo '{}' > "$T_TMP/zone.json"
t_dns_start "$T_TMP/zone.json"
$PY "$top_srcdir/t/conformance/rfc7208.py" --check "$check" \
    --zone "$T_TMP/zone.json" --port "$T_DNS_PORT" --pid "$T_DNS_PID" \
    --dns-conf "$DNS_CONF" --suite "$suite" "$@"
