#!/bin/sh
# Recording for aggregate reports across reloads, through the real daemon:
# a new reports.store on SIGHUP takes the rows from then on while the old
# store keeps exactly what it had (the old writer writes what it holds
# before it stops); a reload that changes another reports key keeps the
# writer; removing the reports group stops recording (no row anywhere),
# adding it back resumes it. Also: authmilter -n and start-up warn that
# reports.from has no signing-table row.
. "$top_srcdir/t/lib/common.sh"
. "$top_srcdir/t/integration/lib.sh"

data=$top_srcdir/t/data/msgauth
t_dns_start "$data/zone.json"
mkdir -p "$T_TMP/db"
# The daemon's user writes the stores' directory (reloads run as it).
[ -n "$AM_USER" ] && chown "$AM_USER" "$T_TMP/db"
A=$T_TMP/db/a.db
B=$T_TMP/db/b.db
reports() { # STORE [MORE]: the reports group, on line 9 of the config
	printf 'reports: { store = "sqlite:%s"; org_name = "Test"; from = "dmarc@mx.test"; %s};' "$1" "$2"
}
# messages DB: the messages DB's rows count ("none" before it exists).
messages() {
	if [ -f "$1" ]; then
		sqlite3 -batch -noheader "$1" \
		    'SELECT COALESCE(SUM(count), 0) FROM report_rows'
	else
		echo none
	fi
}
# wait_messages DB N: up to 5 s for DB to count N messages; prints the count.
wait_messages() {
	n=50
	while [ "$(messages "$1")" != "$2" ] && [ $n -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	messages "$1"
}
# spoof N: N messages from bank.test that fail DMARC (p=reject).
spoof() {
	i=0
	while [ $i -lt "$1" ]; do
		out=$(miltc_run --ip 192.0.2.66 --helo mail.attacker.test \
		    --mail-from x@attacker.test --rcpt bob@mx.test \
		    < "$data/spoof-reject.eml")
		printf '%s\n' "$out" | grep -q '^reply eom: reject 550 5.7.1' ||
		    t_fail "spoof rejected" "$out"
		i=$((i + 1))
	done
}
logged() { grep -c "$1" "$T_TMP/am.log"; }
# reload CONF-EXTRA: rewrites the config, SIGHUP, waits until the reload is
# done (the old writer, if it is replaced, has stopped by then).
reloads=0
reload() {
	am_conf "$T_TMP/am.conf" "$1"
	reloads=$((reloads + 1))
	kill -HUP "$AM_PID"
	n=100
	while [ "$(logged 'configuration reloaded from')" -lt $reloads ] &&
	    [ $n -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	t_eq "reload $reloads done" "$(logged 'configuration reloaded from')" $reloads
}
nosign="warning: reports.from dmarc@mx.test has no signing-table row: authmilter-report sends no report unsigned (it would fail DMARC at receivers)"

# 1. Store A: -n and start-up say that reports will be unsigned.
am_conf "$T_TMP/am.conf" "$(reports "$A")"
t_eq "-n: the warning with file and line, then OK" \
    "$("$AM" -n -c "$T_TMP/am.conf" 2>&1; echo $?)" \
    "$T_TMP/am.conf:9: $nosign
$T_TMP/am.conf: configuration OK
0"
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
t_eq "start-up: the warning in the log" "$(logged "am.conf:9: $nosign")" 1
t_eq "start-up: recording to A" "$(logged "reports: recording to sqlite:$A\$")" 1
spoof 3
t_eq "3 messages in A" "$(wait_messages "$A" 3)" 3
t_eq "B is not made yet" "$(messages "$B")" none

# 2. reports.store A -> B: the old writer stops (having written its rows),
# the new one writes to B.
reload "$(reports "$B")"
t_eq "A's writer stopped with its 3 rows written" \
    "$(logged 'reports: writer stopped: 3 rows written, 0 dropped')" 1
t_eq "recording to B" "$(logged "reports: recording to sqlite:$B\$")" 1
t_eq "a reload warns again" "$(logged "am.conf:9: $nosign")" 2
spoof 2
t_eq "after the reload: 2 messages in B" "$(wait_messages "$B" 2)" 2
t_eq "A keeps exactly its 3" "$(messages "$A")" 3

# 3. Another reports key changes (min_messages): the writer stays.
reload "$(reports "$B" 'min_messages = 2; ')"
t_eq "the writer is not restarted" \
    "$(logged 'reports: writer stopped')" 1
spoof 1
t_eq "B goes on: 3 messages" "$(wait_messages "$B" 3)" 3
t_eq "A still 3" "$(messages "$A")" 3

# 4. No reports group: B's writer stops, nothing more is recorded.
reload ""
t_eq "B's writer stopped with its 3 rows written" \
    "$(logged 'reports: writer stopped: 3 rows written, 0 dropped')" 2
t_eq "no writer started" "$(logged 'reports: recording to')" 2
spoof 2
# A row would be in the store within milliseconds (2 and 3 waited for it).
sleep 1
t_eq "without the group: B still 3" "$(messages "$B")" 3
t_eq "without the group: A still 3" "$(messages "$A")" 3
t_eq "no other store made" "$(ls "$T_TMP/db" | grep -c '\.db$')" 2

# 5. The group back (store A): recording resumes there.
reload "$(reports "$A")"
t_eq "recording to A again" "$(logged "reports: recording to sqlite:$A\$")" 2
spoof 2
t_eq "resumed: A counts 5" "$(wait_messages "$A" 5)" 5
t_eq "B keeps its 3" "$(messages "$B")" 3
am_stop
t_eq "daemon stopped cleanly" "$AM_RC" 0
t_eq "the last writer stopped with its 2 rows written" \
    "$(logged 'reports: writer stopped: 2 rows written, 0 dropped')" 1
t_eq "nothing dropped by any writer" \
    "$(grep 'reports: writer stopped' "$T_TMP/am.log" | grep -vc ', 0 dropped$')" 0
t_eq "A: one row for bank.test, 5 messages, all rejected" \
    "$(sqlite3 -batch -noheader -separator ' ' "$A" 'SELECT domain, count, disposition FROM report_rows')" \
    "bank.test 5 3"
t_eq "B: one row for bank.test, 3 messages" \
    "$(sqlite3 -batch -noheader -separator ' ' "$B" 'SELECT domain, count FROM report_rows')" \
    "bank.test 3"
t_done
