#!/bin/sh
# Signals are handled in one place (issue 12, item 5): under load, bursts
# of SIGHUP and then a SIGTERM among more SIGHUPs give reloads and exactly
# one drained stop, and no transaction that had started is lost. Before,
# libmilter's own signal thread (sigwait() on SIGHUP, SIGTERM, SIGINT) could
# take a signal that arrived while the main thread had one pending, and
# stopped the filter at once, without the drain.
. "$top_srcdir/t/lib/common.sh"
. "$top_srcdir/t/integration/lib.sh"

LOOPS=4
ROUNDS=${AM_SIGNALS_ROUNDS:-10}

cat > "$T_TMP/zone.json" <<'EOZ'
{
 "client.test": [{"type": "TXT", "data": "v=spf1 ip4:192.0.2.1 -all"}],
 "_dmarc.client.test": [{"type": "TXT", "data": "v=DMARC1; p=none"}]
}
EOZ
t_dns_start "$T_TMP/zone.json"

# loader ID: transactions until the daemon is gone; one line each in
# $T_TMP/load.ID: "done VERDICT" (a final reply came, at end of message or
# the drain's 421 at MAIL FROM), "refused" (no connection: the daemon has
# stopped), "lost" (MAIL FROM accepted, then no final reply: a transaction
# the drain let down) or "cut" (connected, gone before MAIL FROM had a
# reply: the session that was open when the daemon exited, for which the
# MTA applies milter_default_action).
loader() {
	i=0
	while [ $i -lt 100000 ]; do
		i=$((i + 1))
		out=$(printf 'From: a@client.test\nTo: b@mx.test\nSubject: s\n\nhello\n' |
		    "$MILTC" -s "local:$T_TMP/am.sock" --timeout 30 \
		    --mail-from a@client.test 2>&1)
		v=$(printf '%s\n' "$out" | sed -n 's/^reply eom: \([a-z]*\).*/\1/p')
		# The drain's 421 at MAIL FROM is a final reply too: the MTA
		# defers the message, nothing is lost.
		printf '%s\n' "$out" | grep -q '^reply mail: tempfail 421 ' &&
		    v=tempfail
		if [ -n "$v" ]; then
			echo "done $v"
		elif printf '%s\n' "$out" | grep -q '^reply mail: '; then
			echo "lost"
			printf '%s\n' "$out" >> "$T_TMP/lost.txt"
		elif printf '%s\n' "$out" | grep -q '^negotiated'; then
			echo "cut"
		else
			echo "refused"
			kill -0 "$AM_PID" 2>/dev/null || break
		fi
	done > "$T_TMP/load.$1"
}

# burst N SIG...: sends each signal of the list, N times over, as fast as
# one process can.
burst() {
	n=$1
	shift
	$PY -c '
import os, signal, sys
pid, n = int(sys.argv[1]), int(sys.argv[2])
for _ in range(n):
    for s in sys.argv[3:]:
        os.kill(pid, getattr(signal, "SIG" + s))
' "$AM_PID" "$n" "$@"
}

am_conf "$T_TMP/am.conf"
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
lp=""
for l in $(seq 1 $LOOPS); do
	loader "$l" &
	lp="$lp $!"
done
sleep 1
# Deterministic half of the check: no thread may take SIGHUP, SIGINT,
# SIGTERM or SIGUSR1 (mask 0x4203) other than through the signalfd, so every
# thread blocks them. Before, the main thread had handlers for them and
# libmilter's thread, in sigwait(), had them unblocked.
open=""
for st in /proc/"$AM_PID"/task/*/status; do
	blk=$(awk '/^SigBlk:/ {print $2}' "$st")
	[ -n "$blk" ] || continue
	[ $((0x$blk & 0x4203)) -eq $((0x4203)) ] || open="$open $(basename "$(dirname "$st")"):$blk"
done
t_eq "every thread blocks the daemon's signals" "$open" ""
for r in $(seq 1 "$ROUNDS"); do
	burst 200 HUP
	sleep 0.5
	kill -0 "$AM_PID" 2>/dev/null || break
done
alive=$(kill -0 "$AM_PID" 2>/dev/null && echo yes || echo no)
t_eq "alive after $ROUNDS bursts of 200 SIGHUPs" "$alive" yes
# The stop: SIGTERM in the middle of more SIGHUPs, and a SIGINT after.
burst 20 HUP
burst 1 TERM
burst 20 HUP
burst 1 INT
wait "$AM_PID"
AM_RC=$?
# shellcheck disable=SC2086
wait $lp

t_eq "exit status 0 (a drained stop)" "$AM_RC" 0
# A sanitizer's exit status (66 for ThreadSanitizer) says why in the log.
[ "$AM_RC" -ne 0 ] &&
    grep -A 60 -m 1 'Sanitizer\|runtime error' "$T_TMP/am.log" | head -80
t_eq "exactly one stop, on SIGTERM" \
    "$(grep -c 'stopping on signal' "$T_TMP/am.log")" 1
grep -q 'stopping on signal 15' "$T_TMP/am.log" &&
    t_ok "  ... and it was SIGTERM's" ||
    t_fail "  ... and it was SIGTERM's" "$(grep stopping "$T_TMP/am.log")"
t_eq "libmilter never stopped on its own" \
    "$(grep -c 'libmilter stopped' "$T_TMP/am.log")" 0
reloads=$(grep -c 'configuration reloaded' "$T_TMP/am.log")
t_eq "reloads happened ($reloads)" "$([ "$reloads" -ge "$ROUNDS" ] && echo yes)" yes
done_n=$(cat "$T_TMP"/load.* | grep -c '^done')
t_eq "transactions completed under the signals ($done_n)" \
    "$([ "$done_n" -ge $LOOPS ] && echo yes)" yes
t_eq "no transaction lost" "$(cat "$T_TMP"/load.* | grep -c '^lost')" 0
[ -s "$T_TMP/lost.txt" ] && head -20 "$T_TMP/lost.txt"
# A session is cut only by the exit, so at most once per loader and as its
# last connection before the refusals.
early=""
for f in "$T_TMP"/load.*; do
	grep -v '^refused$' "$f" | sed '$d' | grep -q '^cut$' &&
	    early="$early $(basename "$f")"
done
t_eq "sessions cut only at the exit ($(cat "$T_TMP"/load.* | grep -c '^cut'))" \
    "$early" ""
t_eq "every completed one accepted or tempfailed by the drain" \
    "$(cat "$T_TMP"/load.* | grep '^done' | grep -v -c 'done accept$\|done tempfail$')" 0
t_done
