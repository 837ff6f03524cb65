#!/bin/sh
# The real daemon over the real milter protocol: A-R added at the top,
# forged A-R with our id removed (from the last back), a header-only
# message, a 10 MB body, abort and a lost client mid-message, the log
# line, reload on SIGHUP (good and bad), -n, and a graceful SIGTERM.
. "$top_srcdir/t/lib/common.sh"
. "$top_srcdir/t/integration/lib.sh"

cat > "$T_TMP/zone.json" <<'EOZ'
{
 "client.test": [{"type": "TXT", "data": "v=spf1 ip4:192.0.2.1 -all"}],
 "slow.test": [{"type": "TXT", "data": "v=spf1 include:timeout.slow.test -all"}],
 "timeout.slow.test": ["TIMEOUT"]
}
EOZ
t_dns_start "$T_TMP/zone.json"
am_conf "$T_TMP/am.conf"
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
t_ok "daemon starts"

msg() {
	printf 'From: a@client.test\nTo: b@mx.test\nSubject: hi\n%s\nhello\n' "$1"
}

t_eq "pidfile holds the daemon's pid" "$(cat "$T_TMP/am.pid" 2>/dev/null)" "$AM_PID"
if [ "$(id -u)" -eq 0 ]; then
	sed 's/^user = .*/user = "";/; s|am.sock|root.sock|' "$T_TMP/am.conf" > "$T_TMP/root.conf"
	err=$("$AM" -f -c "$T_TMP/root.conf" 2>&1); rc=$?
	t_eq "refuses to run as root without a user" "$rc" 1
	case $err in
	*"refusing to run as root"*) t_ok "  ... and says why" ;;
	*) t_fail "  ... and says why" "$err" ;;
	esac
fi

# 1. One A-R field, inserted at the top, with our authserv-id.
out=$(msg "" | miltc_run --mail-from a@client.test)
t_eq "A-R inserted at index 0" \
    "$(printf '%s\n' "$out" | grep -c '^insheader 0 Authentication-Results:  *mx.test;')" 1
t_eq "accepted" "$(printf '%s\n' "$out" | grep '^reply eom:')" "reply eom: accept"
t_eq "spf pass in A-R" \
    "$(printf '%s\n' "$out" | grep -c 'Authentication-Results:.*spf=pass [^;]*smtp.mailfrom=client.test')" 1
# The HELO check (spf=pass smtp.helo=client.test) is in the log line only.
t_eq "one spf= result in A-R: MAIL FROM's" \
    "$(printf '%s\n' "$out" | grep '^insheader 0 Authentication-Results:' | grep -o 'spf=' | wc -l)" 1
t_eq "Received-SPF inserted" "$(printf '%s\n' "$out" | grep -c '^insheader 0 Received-SPF: pass')" 1
if wait_log '4AbCdEfGhIj: spf=pass smtp.helo=client.test spf=pass smtp.mailfrom=client.test dkim=none dmarc=none header.from=client.test action=accept$'; then
	t_ok "summary log line with the queue id"
else
	t_fail "summary log line with the queue id" "$(tail -n 3 "$T_TMP/am.log")"
fi

# 2. Forged fields: ours at positions 1, 3 and 4 (case differs, a comment
# before the id), another server's at 2: delete 4, 3, 1 in that order.
out=$(printf '%s\n' \
    'Authentication-Results: mx.test; spf=pass smtp.mailfrom=bank.test' \
    'Authentication-Results: other.test; dkim=pass header.d=bank.test' \
    'Authentication-Results: MX.TEST; dmarc=pass header.from=bank.test' \
    'Authentication-Results: (forged) mx.test; dkim=pass' \
    'From: a@client.test' 'Subject: forged' '' 'body' |
    miltc_run --mail-from a@client.test)
t_eq "forged A-R deleted from the last back" \
    "$(printf '%s\n' "$out" | grep '^chgheader' | tr '\n' '|')" \
    "chgheader Authentication-Results 4:|chgheader Authentication-Results 3:|chgheader Authentication-Results 1:|"

# 3. A header-only message.
out=$(printf 'From: a@client.test\nSubject: no body\n' | miltc_run --mail-from a@client.test)
t_eq "header-only message accepted" "$(printf '%s\n' "$out" | grep '^reply eom:')" "reply eom: accept"

# 4. A 10 MB body, streamed in 64 KB chunks.
$PY -c '
import sys
sys.stdout.write("From: a@client.test\nSubject: big\n\n")
line = "x" * 76 + "\n"
for _ in range(10 * 1024 * 1024 // len(line)):
    sys.stdout.write(line)
' > "$T_TMP/big.eml"
out=$(miltc_run --mail-from a@client.test < "$T_TMP/big.eml")
t_eq "10 MB body accepted" "$(printf '%s\n' "$out" | grep '^reply eom:')" "reply eom: accept"
t_eq "10 MB body sent in chunks" "$(printf '%s\n' "$out" | grep -c '^body: 10[0-9]* bytes, 1[0-9][0-9] chunks')" 1

# 5. Abort mid-message, then a client that vanishes mid-body; the daemon
# keeps serving.
out=$(miltc_run --mail-from a@client.test --abort-after-body-bytes 1000 < "$T_TMP/big.eml")
t_eq "abort mid-body" "$(printf '%s\n' "$out" | tail -n 1)" "abort"
miltc_run --mail-from a@client.test --close-after-body-bytes 70000 < "$T_TMP/big.eml" >/dev/null
out=$(msg "" | miltc_run --mail-from a@client.test)
t_eq "serves after abort and a lost client" "$(printf '%s\n' "$out" | grep '^reply eom:')" "reply eom: accept"

# 5b. Garbage on the milter socket: random bytes, a packet claiming 1 GB, a
# truncated option negotiation. Each connection is dropped; the daemon goes
# on serving.
$PY - "$T_TMP/am.sock" <<'EOPY'
import os, random, socket, struct, sys
random.seed(7)
payloads = [
    bytes(random.getrandbits(8) for _ in range(5000)),
    struct.pack(">I", 1 << 30) + b"O" + b"\0" * 64,
    struct.pack(">I", 13) + b"O" + struct.pack(">III", 6, 0x1ff, 0x1fffff)[:8],
    struct.pack(">I", 0),
]
for p in payloads:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sys.argv[1])
    try:
        s.sendall(p)
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()
EOPY
kill -0 "$AM_PID" 2>/dev/null && t_ok "alive after garbage on the socket" || t_fail "alive after garbage on the socket"
out=$(msg "" | miltc_run --mail-from a@client.test)
t_eq "serves after garbage on the socket" "$(printf '%s\n' "$out" | grep '^reply eom:')" "reply eom: accept"

# 6. -n: a good config, and a bad one with file:line.
if "$AM" -n -c "$T_TMP/am.conf" >/dev/null 2>&1; then t_ok "-n accepts a good config"; else t_fail "-n accepts a good config"; fi
am_conf "$T_TMP/bad.conf" 'dns: { timout = 1; };'
err=$("$AM" -n -c "$T_TMP/bad.conf" 2>&1); rc=$?
t_eq "-n exit status on a bad config" "$rc" 2
case $err in
"$T_TMP/bad.conf:"[0-9]*) t_ok "-n names file:line" ;;
*) t_fail "-n names file:line" "$err" ;;
esac
# A config that loads but is probably wrong: -n says so on stderr, with
# file:line, and still exits 0 (the daemon logs the same at start).
mkdir -p "$T_TMP/wkeys"
"$top_builddir/milter/authmilter-keygen" -d example.com -s w1 -a rsa -b 1024 \
    -D "$T_TMP/wkeys" >/dev/null 2>&1 || t_fail "keygen a 1024-bit key"
am_conf "$T_TMP/warn.conf" 'dkim: { sign: {
  keys = ( { name = "w1"; domain = "example.com"; selector = "w1";
             file = "'"$T_TMP"'/wkeys/w1.key"; } );
  table = ( { from = "*@example.org"; keys = ["w1"]; } ); }; };'
# -n reads keys as the daemon's user, as start-up and reloads do: a key
# only root can read is refused, naming the user.
if [ -n "$AM_USER" ]; then
	"$AM" -n -c "$T_TMP/warn.conf" >"$T_TMP/n.out" 2>"$T_TMP/n.err"; rc=$?
	t_eq "-n: a key the user cannot read is refused" "$rc $(grep -c "^as user $AM_USER: $T_TMP/warn.conf:11: cannot open key file .*Permission denied" "$T_TMP/n.err")" "2 1"
	chown "$AM_USER" "$T_TMP/wkeys/w1.key"
else
	t_skip "-n: a key the user cannot read is refused" "not root: no other user to become"
fi
"$AM" -n -c "$T_TMP/warn.conf" >"$T_TMP/n.out" 2>"$T_TMP/n.err"; rc=$?
t_eq "-n with warnings exits 0" "$rc" 0
t_eq "-n with warnings still says OK" "$(cat "$T_TMP/n.out")" \
    "$T_TMP/warn.conf: configuration OK"
t_eq "-n prints each warning with file:line" "$(cat "$T_TMP/n.err")" \
    "$T_TMP/warn.conf:11: warning: key \"w1\" is a 1024-bit RSA key; RFC 8301 asks signers for at least 2048 bits
$T_TMP/warn.conf:12: warning: key \"w1\" signs d=example.com, which does not align with From domain example.org of pattern \"*@example.org\": DMARC will not count it"
# -n checks the socket as start-up would: a missing directory, a host
# that does not resolve.
sed 's|^socket = .*|socket = "local:'"$T_TMP"'/no/such/dir/a.sock";|' "$T_TMP/am.conf" > "$T_TMP/nodir.conf"
t_eq "-n: a socket directory that does not exist" \
    "$("$AM" -n -c "$T_TMP/nodir.conf" 2>&1; echo "rc=$?")" \
    "$T_TMP/nodir.conf: socket \"local:$T_TMP/no/such/dir/a.sock\": its directory: No such file or directory
rc=2"
sed 's|^socket = .*|socket = "inet:8895@no-such-host.invalid";|' "$T_TMP/am.conf" > "$T_TMP/nohost.conf"
out=$("$AM" -n -c "$T_TMP/nohost.conf" 2>&1); rc=$?
t_eq "-n: a socket host that does not resolve" "$rc ${out%%\": *}" \
    "2 $T_TMP/nohost.conf: socket \"inet:8895@no-such-host.invalid"

# 7. SIGHUP: a new authserv-id takes effect; a broken file keeps the old.
sed 's/authserv_id = "mx.test"/authserv_id = "mx2.test"/' "$T_TMP/am.conf" > "$T_TMP/am.conf.new"
cp "$T_TMP/am.conf.new" "$T_TMP/am.conf"
kill -HUP "$AM_PID"
wait_log 'configuration reloaded' && t_ok "SIGHUP reloads" || t_fail "SIGHUP reloads"
out=$(msg "" | miltc_run --mail-from a@client.test)
t_eq "reloaded authserv-id in use" \
    "$(printf '%s\n' "$out" | grep -c '^insheader 0 Authentication-Results:  *mx2.test;')" 1
echo 'this is { not a config' >> "$T_TMP/am.conf"
kill -USR1 "$AM_PID"
wait_log 'reload failed' && t_ok "a bad reload is refused" || t_fail "a bad reload is refused"
out=$(msg "" | miltc_run --mail-from a@client.test)
t_eq "old config stays after a bad reload" \
    "$(printf '%s\n' "$out" | grep -c '^insheader 0 Authentication-Results:  *mx2.test;')" 1
kill -0 "$AM_PID" 2>/dev/null && t_ok "daemon alive after SIGUSR1" || t_fail "daemon alive after SIGUSR1"

# 8. SIGTERM while a transaction waits on DNS (SPF include that times out
# after 2 s): new transactions are refused with a tempfail, the one
# in flight finishes, then the daemon exits 0.
msg "" | miltc_run --mail-from a@slow.test > "$T_TMP/slow.out" &
slow=$!
n=100
while [ "$(t_dns_count '^timeout.slow.test TXT')" -eq 0 ] && [ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
kill -TERM "$AM_PID"
wait_log 'stopping on signal 15' || true
out=$(msg "" | miltc_run --mail-from a@client.test)
t_eq "a new transaction while stopping gets a tempfail" \
    "$(printf '%s\n' "$out" | grep '^reply mail:')" \
    "reply mail: tempfail 421 4.3.2 Service shutting down, try again later"
wait $slow
wait "$AM_PID"
AM_RC=$?
t_eq "in-flight transaction finished" "$(grep '^reply eom:' "$T_TMP/slow.out")" "reply eom: accept"
t_eq "in-flight SPF temperror" \
    "$(grep -c 'Authentication-Results:.*spf=temperror' "$T_TMP/slow.out")" 1
t_eq "SIGTERM exit status" "$AM_RC" 0

# 9. An inet socket gets TCP_NODELAY (accepted sockets inherit it), so a
# header change followed by the verdict is not held ~40 ms by Nagle; the
# benchmark measures the latency.
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
am_conf "$T_TMP/tcp.conf"
sed -i "s|^socket = .*|socket = \"inet:$port@127.0.0.1\";|" "$T_TMP/tcp.conf"
: > "$T_TMP/am.log"
"$AM" -f -c "$T_TMP/tcp.conf" >>"$T_TMP/am.log" 2>&1 &
AM_PID=$!
T_PIDS="$T_PIDS $AM_PID"
wait_log 'TCP_NODELAY set on the listening socket' &&
    t_ok "TCP_NODELAY on an inet socket" ||
    t_fail "TCP_NODELAY on an inet socket" "$(cat "$T_TMP/am.log")"
wait_log 'listening on inet:' || true
out=$(msg "" | "$MILTC" --nodelay -s "inet:$port@127.0.0.1" --mail-from a@client.test)
t_eq "message over TCP accepted" "$(printf '%s\n' "$out" | grep '^reply eom:')" "reply eom: accept"
am_stop
t_eq "SIGTERM exit status (inet)" "$AM_RC" 0

# An idle daemon stops at once, on a local and an inet socket (libmilter's
# listener polls for 5 s between looks at its stop flag: it took that).
am_conf "$T_TMP/idle.conf"
# ThreadSanitizer's daemon is about 10 times slower (1.0-1.2 s measured).
limit=500
[ -n "${AM_TSAN:-}" ] && limit=5000
for conf in idle.conf tcp.conf; do
	: > "$T_TMP/am.log"
	"$AM" -f -c "$T_TMP/$conf" >>"$T_TMP/am.log" 2>&1 &
	AM_PID=$!
	T_PIDS="$T_PIDS $AM_PID"
	wait_log 'listening on ' || true
	t0=$(date +%s%N)
	am_stop
	ms=$((($(date +%s%N) - t0) / 1000000))
	t_eq "idle stop under $limit ms ($conf: $ms ms)" \
	    "$AM_RC $([ "$ms" -lt $limit ] && echo fast)" "0 fast"
done

t_done
