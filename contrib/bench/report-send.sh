#!/bin/sh
# contrib/bench/report-send.sh: the aggregate-report store at one million
# messages in one period (one UTC day, one policy domain), filled with
# t/tools/storefill and sent with `authmilter-report send --dry-run`.
#
#	cd BUILD && make t/tools/storefill milter/authmilter-report
#	top_srcdir=SRC top_builddir=BUILD sh SRC/contrib/bench/report-send.sh
#
# Three fills of 1,000,000 messages each, every one into a fresh store:
#   counts    1,000 sources x count 1,000: one store_add of 1,000 rows
#   writer    1,000 sources x count 1, 1,000 times over: 1,000 store_add
#             calls of 1,000 rows, one row per message, as the daemon's
#             writer thread adds them on a busy day
#   distinct  BENCH_DISTINCT sources (50,000) x count 1,000,000 /
#             BENCH_DISTINCT: a report of that many records (0 skips it).
#             At about 706 bytes a record (one DKIM result), more than
#             about 95,000 pass report_xml's 64 MiB ceiling and the send
#             fails; the line says so.
# For each: the fill's wall time, the store's size in bytes (SQLite: the
# file and its -wal, after the last handle closed; PostgreSQL:
# pg_total_relation_size of the store's tables), the send's wall time and
# peak RSS (GNU time, when /usr/bin/time is it), the sizes of the report
# (.xml, .xml.gz, .eml) and its record count. One line per case on
# stdout, a Markdown table at the end.
#
# Back ends: SQLite always; PostgreSQL too when BENCH_PG is not 0 and
# initdb is under /usr/lib/postgresql (a private cluster in a temp
# directory, unix socket only, default durability settings: fsync and
# synchronous_commit on, as a production store would run; as root it
# runs as the postgres user). BENCH_KEEP=1 keeps the work directory.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
FILL=$top_builddir/t/tools/storefill
REP=$top_builddir/milter/authmilter-report
DISTINCT=${BENCH_DISTINCT:-50000}
for p in "$FILL" "$REP"; do
	if [ ! -x "$p" ]; then
		echo "report-send.sh: $p missing (make t/tools/storefill" \
		    "milter/authmilter-report)" >&2
		exit 1
	fi
done
W=$(mktemp -d /tmp/am-report-bench.XXXXXX)
chmod 755 "$W"
PG_CTL=
cleanup() {
	[ -n "$PG_CTL" ] && $PG_CTL -m fast stop > /dev/null 2>&1
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

DAY=1782864000 # 2026-07-01T00:00:00Z
NOW=$((DAY + 86400 + 600))
GNUTIME=
/usr/bin/time -f %M true > /dev/null 2>&1 && GNUTIME=/usr/bin/time

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# size BACKEND SPEC: the store's bytes.
size() {
	case $1 in
	sqlite)
		f=${2#sqlite:}
		s=$(stat -c %s "$f")
		[ -e "$f-wal" ] && s=$((s + $(stat -c %s "$f-wal")))
		echo "$s"
		;;
	postgresql)
		$AS psql -X -q -t -A -h "$PGDIR" -U authmilter -d "$DB" -c \
		    "SELECT pg_total_relation_size('periods') +
		     pg_total_relation_size('report_rows') +
		     pg_total_relation_size('meta')"
		;;
	esac
}

# fresh BACKEND CASE: a new empty store; its spec in $SPEC.
fresh() {
	case $1 in
	sqlite)
		SPEC=sqlite:$W/$2.db
		rm -f "$W/$2.db" "$W/$2.db-wal" "$W/$2.db-shm"
		;;
	postgresql)
		DB=bench_$2
		$AS "$PGBIN/dropdb" --if-exists -h "$PGDIR" -U authmilter "$DB" \
		    2> /dev/null
		$AS "$PGBIN/createdb" -h "$PGDIR" -U authmilter "$DB" || exit 1
		SPEC="postgresql:///$DB?host=$PGDIR&user=authmilter"
		;;
	esac
	cat > "$W/$2.conf" <<EOC
reports: { store = "$SPEC"; org_name = "Bench"; from = "dmarc@mx.bench.test"; };
EOC
}

ROWS=""
# run BACKEND CASE STOREFILL-ARGS...
run() {
	be=$1
	name=$2
	shift 2
	fresh "$be" "$name"
	t0=$(now)
	"$FILL" "$SPEC" --domain bench.test --when $((DAY + 43200)) "$@" \
	    > "$W/$name.fill" || { echo "storefill failed" >&2; exit 1; }
	t1=$(now)
	fill=$(secs "$t0" "$t1")
	bytes=$(size "$be" "$SPEC")
	out=$W/$be-$name
	rm -rf "$out"
	mkdir -p "$out"
	t0=$(now)
	if [ -n "$GNUTIME" ]; then
		$GNUTIME -f %M -o "$W/$name.rss" "$REP" -c "$W/$name.conf" \
		    send --dry-run "$out" --now "$NOW" > "$W/$name.send" 2>&1
	else
		"$REP" -c "$W/$name.conf" send --dry-run "$out" --now "$NOW" \
		    > "$W/$name.send" 2>&1
	fi
	rc=$?
	t1=$(now)
	send=$(secs "$t0" "$t1")
	if [ "$rc" -ne 0 ] ||
	    ! grep -q '^1 reports, 0 periods skipped, 0 failed$' "$W/$name.send"; then
		# A report that cannot be made is a result too: the line says
		# why, and the next case runs.
		why=$(grep '^authmilter-report' "$W/$name.send" | head -n 1)
		line="| $be | $name | $(sed 's/^storefill: //' "$W/$name.fill") | - | $fill | $bytes | send failed after $send s: ${why:-exit $rc} | | | | | |"
		echo "$line"
		ROWS="$ROWS$line
"
		return
	fi
	rss=-
	[ -n "$GNUTIME" ] && rss=$(($(tail -n 1 "$W/$name.rss") / 1024))
	gz=$(ls "$out"/*.xml.gz)
	gzb=$(stat -c %s "$gz")
	xmlb=$(gunzip -c "$gz" | wc -c)
	emlb=$(stat -c %s "${gz%.xml.gz}.eml")
	recs=$(gunzip -c "$gz" | grep -o '<record>' | wc -l)
	msgs=$(sed -n 's/^[^ ]* \([0-9]*\) messages.*/\1/p' "$W/$name.send")
	line="| $be | $name | $(sed 's/^storefill: //' "$W/$name.fill") | $msgs | $fill | $bytes | $send | $rss | $recs | $xmlb | $gzb | $emlb |"
	echo "$line"
	ROWS="$ROWS$line
"
}

cases() { # BACKEND
	run "$1" counts --sources 1000 --count 1000
	run "$1" writer --sources 1000 --count 1 --repeat 1000
	if [ "$DISTINCT" -gt 0 ]; then
		run "$1" distinct --sources "$DISTINCT" \
		    --count $((1000000 / DISTINCT))
	fi
}

cases sqlite

PGBIN=
if [ "${BENCH_PG:-1}" != 0 ]; then
	for d in /usr/lib/postgresql/*/bin; do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			PGBIN=$d
			break
		fi
	done
fi
if [ -n "$PGBIN" ]; then
	PGDIR=$W/pg
	mkdir -p "$PGDIR"
	AS=
	if [ "$(id -u)" -eq 0 ]; then
		AS="runuser -u postgres --"
		chown postgres "$PGDIR"
	fi
	if ! $AS "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U authmilter \
	    --no-locale -E UTF8 > "$W/initdb.log" 2>&1; then
		echo "postgresql: initdb failed:" >&2
		tail -n 5 "$W/initdb.log" >&2
		exit 1
	fi
	PG_CTL="$AS $PGBIN/pg_ctl -D $PGDIR/data -l $PGDIR/server.log -w -t 60"
	if ! $PG_CTL -o "-k $PGDIR -c listen_addresses=''" start > /dev/null; then
		PG_CTL=
		echo "postgresql: pg_ctl start failed" >&2
		exit 1
	fi
	cases postgresql
else
	echo "report-send.sh: PostgreSQL left out (BENCH_PG=0 or no initdb)" >&2
fi

echo
echo "| store | case | storefill | messages | fill s | store bytes | send s | send RSS MB | records | .xml bytes | .xml.gz bytes | .eml bytes |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s' "$ROWS"
