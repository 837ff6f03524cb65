#!/bin/sh
# The time model through the real daemon (issue 12): checks yield instead
# of blocking a thread, so (1) two transactions waiting on a silent DNS
# server do not delay a third, normal one; (2) an SPF evaluation whose
# server answers just before each query's deadline, with names made
# unique by %{l}, ends at spf.timeout as temperror (with spf.reject_fail,
# inside the MAIL FROM reply); (3) an abort with SPF pending does not
# wait for it (close and a new MAIL FROM: t/unit/test-msgauth.c); (4) a
# trusted forwarder's PTR check starts at MAIL FROM: an answer 1.5 s late
# still confirms it by end of message, a silent one is no match at the
# query deadline (enforced), and an abort does not wait for it.
. "$top_srcdir/t/lib/common.sh"
. "$top_srcdir/t/integration/lib.sh"

terms=""
for c in a b c d e f g h i; do
	terms="$terms a:$c.%{l}.slow.test"
done
cat > "$T_TMP/zone.json" <<EOZ
{
 "client.test": [{"type": "TXT", "data": "v=spf1 ip4:192.0.2.1 -all"}],
 "silent.test": ["TIMEOUT"],
 "slowspf.test": [{"type": "TXT", "data": "v=spf1$terms -all"}],
 "*.slow.test": ["DELAY 1.5", {"type": "A", "data": "127.0.0.2"}],
 "_dmarc.author.test": [{"type": "TXT", "data": "v=DMARC1; p=reject"}],
 "77.2.0.192.in-addr.arpa": ["DELAY 1.5", {"type": "PTR", "data": "fwd.test"}],
 "fwd.test": [{"type": "A", "data": "192.0.2.77"}],
 "78.2.0.192.in-addr.arpa": ["TIMEOUT"]
}
EOZ
t_dns_start "$T_TMP/zone.json"
# Answers 1.5 s late must not make libunbound give up on the server.
printf 'server:\n\tinfra-cache-min-rtt: 2500\n' >> "$DNS_CONF"

now() { date +%s.%N; }
# elapsed T0: seconds since T0, to the hundredth.
elapsed() { echo "$(now) $1" | awk '{ printf "%.2f", $1 - $2 }'; }
# within X LO HI: LO <= X < HI.
within() { echo "$1 $2 $3" | awk '{ exit !($1 >= $2 && $1 < $3) }'; }

msg() {
	printf 'From: a@%s\nTo: b@mx.test\nSubject: hi\n\nhello\n' "$1"
}

# am_conf sets dns.timeout 2; these cases want 3 s per query.
conf() {
	am_conf "$T_TMP/am.conf" "$1"
	sed -i 's/timeout = 2.0;/timeout = 3.0;/' "$T_TMP/am.conf"
}

# 1. Two senders whose DNS is silent, one whose DNS works.
conf ""
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
msg client.test | miltc_run --ip 192.0.2.1 --mail-from a@client.test > /dev/null
t0=$(now)
msg silent.test | miltc_run --ip 192.0.2.1 --helo client.test --mail-from a@silent.test > "$T_TMP/s1.out" &
s1=$!
msg silent.test | miltc_run --ip 192.0.2.1 --helo client.test --mail-from b@silent.test > "$T_TMP/s2.out" &
s2=$!
n=50
while [ "$(t_dns_count '^silent.test TXT')" -eq 0 ] && [ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
sleep 0.3
t1=$(now)
out=$(msg client.test | miltc_run --ip 192.0.2.1 --helo client.test --mail-from c@client.test)
el=$(elapsed "$t1")
t_eq "normal sender beside two silent ones: accepted" \
    "$(printf '%s\n' "$out" | grep '^reply eom:')" "reply eom: accept"
t_eq "  ... with spf=pass" \
    "$(printf '%s\n' "$out" | grep -c 'Authentication-Results:.*spf=pass')" 1
within "$el" 0 1 && t_ok "  ... in its usual time ($el s)" ||
    t_fail "  ... in its usual time" "took $el s"
kill -0 "$s1" 2>/dev/null && kill -0 "$s2" 2>/dev/null &&
    t_ok "  ... while both silent ones still wait" ||
    t_fail "  ... while both silent ones still wait"
wait "$s1" "$s2"
el=$(elapsed "$t0")
for f in s1 s2; do
	t_eq "silent sender $f: accepted with spf=temperror" \
	    "$(grep '^reply eom:' "$T_TMP/$f.out") $(grep -c 'Authentication-Results:.*spf=temperror' "$T_TMP/$f.out")" \
	    "reply eom: accept 1"
done
within "$el" 2.5 5 && t_ok "silent senders end at the query deadline ($el s)" ||
    t_fail "silent senders end at the query deadline" "took $el s"
am_stop

# 2. A server that answers each query 1.5 s late (inside dns.timeout),
# nine terms with unique names: 13.5 s without a limit on the whole.
conf 'spf: { timeout = 3; };'
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
t0=$(now)
out=$(msg client.test | miltc_run --ip 192.0.2.1 --helo client.test --mail-from u1@slowspf.test)
el=$(elapsed "$t0")
t_eq "slow SPF chain: spf=temperror at spf.timeout" \
    "$(printf '%s\n' "$out" | grep -c 'Authentication-Results:.*spf=temperror (SPF time limit of 3 s at slowspf.test)')" 1
within "$el" 2.9 4.5 && t_ok "  ... after spf.timeout ($el s)" ||
    t_fail "  ... after spf.timeout" "took $el s"
am_stop
conf 'spf: { timeout = 3; reject_fail = true; };'
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
t0=$(now)
out=$(msg client.test | miltc_run --ip 192.0.2.1 --helo client.test --mail-from u2@slowspf.test)
el=$(elapsed "$t0")
t_eq "slow SPF chain with reject_fail: 451 at MAIL FROM" \
    "$(printf '%s\n' "$out" | grep '^reply mail:' | cut -d' ' -f1-5)" \
    "reply mail: tempfail 451 4.7.24"
within "$el" 2.9 4.5 && t_ok "  ... after spf.timeout, inside the MTA's 30 s ($el s)" ||
    t_fail "  ... after spf.timeout, inside the MTA's 30 s" "took $el s"
am_stop

# 3. Abort with SPF pending on a silent server: the abort does not wait
# for it. A SIGTERM right after it finds no transaction in flight (the
# drain counts a transaction until its abort callback has returned).
conf ""
: > "$T_TMP/am.log"
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
out=$(msg silent.test | miltc_run --ip 192.0.2.1 --helo client.test --mail-from a@silent.test --abort-after-headers)
t_eq "SPF pending, abort: the transaction ended" \
    "$(printf '%s\n' "$out" | tail -n 1)" "abort"
am_stop
t_eq "  ... and nothing waited for SPF" \
    "$(grep -c 'waiting for .* transaction' "$T_TMP/am.log")" 0
t_eq "  ... exit status" "$AM_RC" 0

# 4. dmarc.trusted_forwarders by name: From author.test (p=reject), SPF
# fail, no signature, so DMARC fails; only the forwarder exemption lets
# it through.
conf 'dmarc: { trusted_forwarders = ["fwd.test"]; };'
: > "$T_TMP/am.log"
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
t0=$(now)
out=$(msg author.test | miltc_run --ip 192.0.2.77 --helo fwd.test --mail-from a@client.test)
el=$(elapsed "$t0")
t_eq "PTR answer 1.5 s late: the forwarder is confirmed, accepted" \
    "$(printf '%s\n' "$out" | grep '^reply eom:') $(printf '%s\n' "$out" | grep -c 'dmarc=fail (p=reject sp=reject dis=reject override=trusted_forwarder)')" \
    "reply eom: accept 1"
within "$el" 1.4 2.9 && t_ok "  ... in the PTR answer's time ($el s)" ||
    t_fail "  ... in the PTR answer's time" "took $el s"
t0=$(now)
out=$(msg author.test | miltc_run --ip 192.0.2.78 --helo fwd.test --mail-from a@client.test)
el=$(elapsed "$t0")
t_eq "silent PTR server: no forwarder, the p=reject failure refused" \
    "$(printf '%s\n' "$out" | grep '^reply eom:' | cut -d' ' -f1-5)" \
    "reply eom: reject 550 5.7.1"
within "$el" 2.5 5 && t_ok "  ... at the query deadline ($el s)" ||
    t_fail "  ... at the query deadline" "took $el s"
t0=$(now)
out=$(msg author.test | miltc_run --ip 192.0.2.78 --helo fwd.test --mail-from a@client.test --abort-after-headers)
el=$(elapsed "$t0")
t_eq "PTR pending, abort: the transaction ended" "$(printf '%s\n' "$out" | tail -n 1)" "abort"
within "$el" 0 1 && t_ok "  ... without waiting for the PTR answer ($el s)" ||
    t_fail "  ... without waiting for the PTR answer" "took $el s"
am_stop
t_eq "  ... exit status" "$AM_RC" 0
t_done
