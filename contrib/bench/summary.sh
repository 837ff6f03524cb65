#!/bin/sh
# Time of authmilter-report summary over many stored rows: N report mails
# of ROWS records each (t/tools/report-corpus.py bench: example.com, all
# on 2026-01-01, ROWS distinct sources) are ingested into a fresh SQLite
# store, then `summary example.com --json` is timed, its DNS (PTR names,
# the SPF check) answered by the tests' loopback server from an empty
# zone. Prints the ingest time, the store size, and the summary's time
# and peak RSS (/usr/bin/time, Debian's time package).
#	sh contrib/bench/summary.sh BUILDDIR [N] [ROWS]
build=$(cd "${1:?usage: summary.sh BUILDDIR [N] [ROWS]}" && pwd)
nrep=${2:-100}
rows=${3:-10000}
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
. "$top_srcdir/t/lib/common.sh"
echo '{}' > "$T_TMP/zone.json"
t_dns_start "$T_TMP/zone.json"
mkdir -p "$T_TMP/mail" "$T_TMP/q"
$PY "$top_srcdir/t/tools/report-corpus.py" bench "$T_TMP/mail" "$nrep" "$rows"
cat > "$T_TMP/am.conf" <<EOC
reports: { store = "sqlite:$T_TMP/r.db"; org_name = "Bench"; from = "dmarc@bench.example"; quarantine = "$T_TMP/q"; };
dns: { unbound_conf = "$DNS_CONF"; timeout = 2.0; };
EOC
t0=$(date +%s.%N)
for f in "$T_TMP"/mail/*.eml; do
	"$build/milter/authmilter-report" -c "$T_TMP/am.conf" ingest < "$f" \
	    2>/dev/null || { echo "ingest failed: $f"; exit 1; }
done
t1=$(date +%s.%N)
/usr/bin/time -f '%e %M' -o "$T_TMP/time" \
    "$build/milter/authmilter-report" -c "$T_TMP/am.conf" summary example.com \
    --json --now 1767400000 --days 30 > "$T_TMP/sum.json" || { echo "summary failed"; exit 1; }
$PY - "$t0" "$t1" "$T_TMP/time" "$T_TMP/sum.json" "$(stat -c %s "$T_TMP/r.db")" \
    "$(sqlite3 "$T_TMP/r.db" 'SELECT COUNT(*) FROM rx_rows')" <<'EOPY'
import json, sys
t0, t1 = float(sys.argv[1]), float(sys.argv[2])
secs, kb = open(sys.argv[3]).read().split()
total = json.load(open(sys.argv[4]))["total"]
print("ingest: %.1f s; store: %s rows, %.1f MB" % (t1 - t0, sys.argv[6], int(sys.argv[5]) / 1e6))
print("summary: %s s, peak RSS %.1f MB, total %d messages" % (secs, int(kb) / 1024, total))
EOPY
