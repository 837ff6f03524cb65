#!/bin/sh
# Ingest rate of authmilter-report ingest: N report mails of ROWS records
# each (t/tools/report-corpus.py bench, gzip, base64), ingested one at a
# time on standard input as a pipe alias would, into a fresh SQLite store.
# Prints reports/s and rows/s (wall clock, whole process each time).
#	sh contrib/bench/ingest.sh BUILDDIR [N] [ROWS]
build=${1:?usage: ingest.sh BUILDDIR [N] [ROWS]}
n=${2:-20}
rows=${3:-10000}
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/am-bench-ingest.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/mail" "$work/q"
python3 "$src/t/tools/report-corpus.py" bench "$work/mail" "$n" "$rows"
cat > "$work/am.conf" <<EOC
reports: { store = "sqlite:$work/r.db"; org_name = "Bench"; from = "dmarc@bench.example"; quarantine = "$work/q"; };
EOC
t0=$(date +%s.%N)
for f in "$work"/mail/*.eml; do
	"$build/milter/authmilter-report" -c "$work/am.conf" ingest < "$f" \
	    2>/dev/null || { echo "ingest failed: $f"; exit 1; }
done
t1=$(date +%s.%N)
got=$(sqlite3 "$work/r.db" 'SELECT COUNT(*) FROM rx_rows')
python3 - "$t0" "$t1" "$n" "$rows" "$got" "$(du -k "$work/mail" | cut -f1)" <<'EOPY'
import sys
t0, t1, n, rows, got, kb = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
dt = t1 - t0
print("%d reports x %d records (%d stored), %d kB of mail: %.2f s" % (n, rows, got, kb, dt))
print("%.2f reports/s, %.0f rows/s, %.1f ms per report" % (n / dt, n * rows / dt, 1000 * dt / n))
EOPY
