#!/bin/sh
# DNS survives a flood of silent name servers (issue 12, item 7). Messages
# from domains whose lookups are never answered arrive 8 at a time for
# $AM_DNSFLOOD_SECS seconds while one message a second from a working
# domain (a new name each time, so every lookup goes upstream) must keep
# its results (spf=pass, dmarc=pass, accept) and its latency, during the
# flood, across a SIGHUP in the middle of it, and after it. Two set-ups:
# the silent names on the same forwarder as the working ones, and behind a
# separate silent server (127.0.0.2).
#
# Before the fix every working message tempfailed at exactly dns.timeout
# some 10 s into the flood: libunbound's 16 outgoing ports were all held by
# queries we had given up on (see dns.c, ctx_defaults).
#
# Length: 60 s per set-up is what the issue asks; make check runs 15 s
# (AM_DNSFLOOD_SECS=60 for the full run), because two set-ups at 60 s plus
# the tail would add over 2.5 minutes to a ~5 minute suite, and the jam
# showed within 10 s of the flood's start in every run before the fix.
. "$top_srcdir/t/lib/common.sh"
. "$top_srcdir/t/integration/lib.sh"

FLOOD=${AM_DNSFLOOD_SECS:-15}
# Under ThreadSanitizer (contrib/setup.sh sets AM_TSAN) the daemon runs
# 5-15 times slower and this test's one-second probes and its reload
# window no longer measure the resolver (the reload check failed there 1
# run in 2); the DNS module's threads are raced by test-dns instead.
if [ -n "${AM_TSAN:-}" ]; then
	t_skip "dns flood" "timing test; under ThreadSanitizer test-dns covers the races"
	t_done
	exit 77
fi
AFTER=8
C=8

cat > "$T_TMP/zone.json" <<'EOZ'
{
 "*.good.test": [{"type": "TXT", "data": "v=spf1 ip4:192.0.2.1 -all"}],
 "_dmarc.good.test": [{"type": "TXT", "data": "v=DMARC1; p=none"}],
 "*.silent.test": ["TIMEOUT"]
}
EOZ
echo '{"*.silent.test": ["TIMEOUT"]}' > "$T_TMP/silent.json"
t_dns_start "$T_TMP/zone.json"
cp "$DNS_CONF" "$T_TMP/shared.conf"
$PY "$top_srcdir/t/tools/dnsserver.py" --zone "$T_TMP/silent.json" \
    --port-file "$T_TMP/silent.port" --log "$T_TMP/silent.log" \
    --addr 127.0.0.2 &
T_PIDS="$T_PIDS $!"
t_wait_file "$T_TMP/silent.port" || { echo "silent server did not start"; exit 1; }
cp "$DNS_CONF" "$T_TMP/separate.conf"
printf 'forward-zone:\n\tname: "silent.test."\n\tforward-addr: 127.0.0.2@%s\n' \
    "$(cat "$T_TMP/silent.port")" >> "$T_TMP/separate.conf"

ms_now() { date +%s%3N; }

# probe TAG: one message from a working domain; appends
# "TAG MS VERDICT RESULTS" to $T_TMP/probes.
probe() {
	t0=$(ms_now)
	out=$(printf 'From: a@w%s.good.test\nTo: b@mx.test\nSubject: p\n\nhello\n' "$1" |
	    "$MILTC" -s "local:$T_TMP/am.sock" --timeout 60 \
	    --ip 192.0.2.1 --helo "h$1.good.test" --mail-from "a@w$1.good.test")
	t1=$(ms_now)
	v=$(printf '%s\n' "$out" | sed -n 's/^reply eom: \([a-z]*\).*/\1/p')
	res=$(printf '%s\n' "$out" | grep '^insheader 0 Authentication-Results' |
	    grep -o 'spf=[a-z]*\|dmarc=[a-z]*' | tr '\n' ' ')
	echo "$1 $((t1 - t0)) $v $res" >> "$T_TMP/probes"
}

# flooder ID: messages from new silent names until $T_TMP/stop exists.
flooder() {
	i=0
	while [ ! -e "$T_TMP/stop" ] && [ $i -lt 100000 ]; do
		i=$((i + 1))
		printf 'From: a@r%s-%s.silent.test\nTo: b@mx.test\nSubject: f\n\nx\n' "$1" $i |
		    "$MILTC" -s "local:$T_TMP/am.sock" --timeout 60 --ip 192.0.2.9 \
		    --helo "h$1-$i.silent.test" --mail-from "a@r$1-$i.silent.test" \
		    >/dev/null 2>&1
	done
	echo "$i" > "$T_TMP/flooder.$1"
}

# run NAME DNS_CONF
run() {
	name=$1
	DNS_CONF=$2
	: > "$T_TMP/probes"
	: > "$T_TMP/am.log"
	rm -f "$T_TMP/stop" "$T_TMP"/flooder.*
	am_conf "$T_TMP/am.conf"
	sed -i 's/timeout = 2.0/timeout = 5.0/' "$T_TMP/am.conf"
	am_start "$T_TMP/am.conf" || { t_fail "$name: daemon starts"; return; }
	probe "$name-before"
	fp=""
	for c in $(seq 1 $C); do
		flooder "$name-$c" &
		fp="$fp $!"
	done
	# Let the flood build up before measuring (the jam used to show some
	# 10 s in, so a short run still covers it).
	sleep 3
	start=$(date +%s)
	n=0
	hup=no
	while [ $(($(date +%s) - start)) -lt "$FLOOD" ] && [ $n -lt 1000 ]; do
		n=$((n + 1))
		probe "$name-d$n"
		if [ $hup = no ] && [ $(($(date +%s) - start)) -ge $((FLOOD / 2)) ]; then
			kill -HUP "$AM_PID"
			hup=yes
			wait_log 'configuration reloaded' || true
		fi
		sleep 1
	done
	touch "$T_TMP/stop"
	# shellcheck disable=SC2086
	wait $fp
	flood_msgs=$(cat "$T_TMP"/flooder.* | awk '{s += $1} END {print s}')
	for n in $(seq 1 $AFTER); do
		probe "$name-a$n"
		sleep 1
	done
	am_stop

	silent=$(cat "$T_TMP/dns.log" "$T_TMP/silent.log" 2>/dev/null |
	    grep -c "^h$name-.*silent.test\|^r$name-.*silent.test")
	t_eq "$name: the flood ran ($flood_msgs messages, $silent silent queries)" \
	    "$([ "$flood_msgs" -ge $C ] && [ "$silent" -gt 0 ] && echo yes)" yes
	t_eq "$name: reloaded during the flood" \
	    "$(grep -c 'configuration reloaded' "$T_TMP/am.log")" 1
	bad=$(awk '$3 != "accept" || !/ spf=pass / || !/ dmarc=pass / ||
	    /temperror|fail|none/' "$T_TMP/probes")
	t_eq "$name: every working message passes ($(wc -l < "$T_TMP/probes") sent)" \
	    "$bad" ""
	# Usual latency is ~5-30 ms here; 1 s is far below dns.timeout (5 s),
	# so no working lookup waited for a timeout.
	# Normal is 4-22 ms; a jammed resolver answers at dns.timeout (5 s).
	# 2.5 s leaves room for a loaded CI host (one probe took 1.9 s while
	# the other suites ran beside it) and still tells the two apart.
	slow=$(grep -v -- "-before " "$T_TMP/probes" | awk '$2 >= 2500')
	t_eq "$name: no working message took 2.5 s or more" "$slow" ""
	missing=""
	for tag in $(awk '{print $1}' "$T_TMP/probes"); do
		grep -q "^w$tag.good.test TXT" "$T_TMP/dns.log" ||
		    missing="$missing $tag"
	done
	t_eq "$name: every working lookup reached the server" "$missing" ""
	echo "  $name latencies (ms):" $(awk '{print $2}' "$T_TMP/probes")
}

run shared "$T_TMP/shared.conf"
run separate "$T_TMP/separate.conf"
t_done
