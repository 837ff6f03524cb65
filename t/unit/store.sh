#!/bin/sh
# Runs t/unit/test-store on both back ends: a SQLite file in the temp
# directory, and a private PostgreSQL cluster started here (initdb +
# pg_ctl, unix socket only, no TCP) and stopped at the end. The closing
# lines of the two runs are summed into this script's. No PostgreSQL
# binaries is a failure, not a skip: contrib/setup.sh installs postgresql.
# STORE_TEST_WRAP runs test-store under a tool, e.g.
#	STORE_TEST_WRAP='valgrind -q --error-exitcode=9' STORE_BENCH_MESSAGES=2000
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib/common.sh"

TEST=$top_builddir/t/unit/test-store

# run NAME SPEC: runs test-store, adds its closing line to ours.
run() {
	${STORE_TEST_WRAP:-} "$TEST" "$2" > "$T_TMP/$1.out" 2>&1
	rc=$?
	sed "s/^/$1: /" "$T_TMP/$1.out"
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$T_TMP/$1.out" | tail -n 1)
	if [ -z "$last" ]; then
		t_fail "$1: test-store gave no closing line (exit $rc)"
		return
	fi
	p=$(echo "$last" | sed -E 's/^([0-9]+) passed.*/\1/')
	f=$(echo "$last" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
	s=$(echo "$last" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p')
	T_PASSED=$((T_PASSED + p))
	T_FAILED=$((T_FAILED + f))
	T_SKIPPED=$((T_SKIPPED + ${s:-0}))
	[ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || t_fail "$1: test-store exit $rc"
}

# --- SQLite ---
mkdir -p "$T_TMP/sqlite"
run sqlite "sqlite:$T_TMP/sqlite/store.db"

# --- PostgreSQL ---
PGBIN=
for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
	if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
		PGBIN=$d
		break
	fi
done
if [ -z "$PGBIN" ]; then
	t_fail "postgresql: no initdb under /usr/lib/postgresql" \
	    "contrib/setup.sh installs the postgresql package"
	t_done
	exit
fi

PGDIR=$T_TMP/pg
mkdir -p "$PGDIR"
AS=
PG_TMPDIR=
if [ "$(id -u)" -eq 0 ]; then
	# PostgreSQL refuses to run as root: the cluster belongs to the
	# postgres user the Debian package creates. That user must reach the
	# directory; when the temp directory lies under one it cannot enter
	# (TMPDIR under /root, mode 700), the cluster goes to a directory of
	# its own under /tmp instead.
	AS="runuser -u postgres --"
	chown postgres "$PGDIR"
	if ! $AS test -w "$PGDIR"; then
		PG_TMPDIR=$(mktemp -d /tmp/am-pg.XXXXXX)
		PGDIR=$PG_TMPDIR
		chmod 755 "$PGDIR"
		chown postgres "$PGDIR"
	fi
fi
PGDATA=$PGDIR/data
PG_CTL="$AS $PGBIN/pg_ctl -D $PGDATA -l $PGDIR/server.log -w -t 60"
# fsync off: a test cluster, thrown away at the end.
PG_OPTS="-k $PGDIR -c listen_addresses='' -c fsync=off"

pg_cleanup() {
	$PG_CTL -m immediate stop > /dev/null 2>&1
	[ -n "$PG_TMPDIR" ] && [ -z "${T_KEEP:-}" ] && rm -rf "$PG_TMPDIR"
	t_cleanup
}
trap pg_cleanup EXIT

if ! $AS "$PGBIN/initdb" -D "$PGDATA" -A trust -U authmilter \
    --no-locale -E UTF8 > "$PGDIR/initdb.log" 2>&1; then
	t_fail "postgresql: initdb" "$(tail -n 5 "$PGDIR/initdb.log")"
	t_done
	exit
fi
if ! $PG_CTL -o "$PG_OPTS" start > /dev/null 2>&1; then
	t_fail "postgresql: pg_ctl start" "$(tail -n 5 "$PGDIR/server.log")"
	t_done
	exit
fi
if ! $AS "$PGBIN/createdb" -h "$PGDIR" -U authmilter reports \
    > "$PGDIR/createdb.log" 2>&1; then
	t_fail "postgresql: createdb" "$(cat "$PGDIR/createdb.log")"
	t_done
	exit
fi
STORE_PG_STOP="$PG_CTL -m fast stop > /dev/null"
STORE_PG_START="$PG_CTL -o \"$PG_OPTS\" start > /dev/null"
export STORE_PG_STOP STORE_PG_START
run postgresql "postgresql:///reports?host=$PGDIR&user=authmilter"
t_done
