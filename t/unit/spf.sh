#!/bin/sh
# Runs t/unit/test-spf against the loopback DNS server serving
# t/data/spf/zone.json: the check_host() cases through the real libunbound
# path (the pure cases run as well).
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib/common.sh"

cp "$top_srcdir/t/data/spf/zone.json" "$T_TMP/zone.json"
t_dns_start "$T_TMP/zone.json"
"$top_builddir/t/unit/test-spf" "$DNS_CONF"
