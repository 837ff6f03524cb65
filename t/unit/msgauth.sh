#!/bin/sh
# Runs t/unit/test-msgauth against the loopback DNS server: silent.test is
# never answered, client.test has an SPF record for 192.0.2.1.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib/common.sh"

cat > "$T_TMP/zone.json" <<'EOZ'
{
 "client.test": [{"type": "TXT", "data": "v=spf1 ip4:192.0.2.1 -all"}],
 "silent.test": ["TIMEOUT"]
}
EOZ
t_dns_start "$T_TMP/zone.json"
# Not exec: the EXIT trap stops the DNS server and removes $T_TMP.
"$top_builddir/t/unit/test-msgauth" "$DNS_CONF"
