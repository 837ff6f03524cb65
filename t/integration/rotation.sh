#!/bin/sh
# Gap-free key rotation (dkim.sign.publish_check): a new key put in front
# of the old one in a signing-table row is not used while its record is
# absent (the old key signs, and the log says why); once the record is in
# DNS the next check (publish_interval) switches to it by itself, with
# messages flowing all the while: none unsigned, none signed with a key
# that was not yet published. A row with no published key fails signing
# (dkim.sign.on_error); a record with another key counts as unpublished.
. "$top_srcdir/t/lib/common.sh"
. "$top_srcdir/t/integration/lib.sh"

data=$top_srcdir/t/data/msgauth
check=$top_builddir/milter/authmilter-check
# Negative answers cached for 1 s, as the new record's own TTL.
cp "$data/zone.json" "$T_TMP/zone.json"
t_dns_start "$T_TMP/zone.json" --negative-ttl 1

mkdir -p "$T_TMP/keys"
cp "$data/s1.key" "$T_TMP/keys/old.key"
cp "$data/e1.key" "$T_TMP/keys/ed.key"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$T_TMP/keys/new.key" 2>/dev/null
chmod 600 "$T_TMP/keys/"*.key
[ -n "$AM_USER" ] && chown "$AM_USER" "$T_TMP/keys/"*.key
chmod 755 "$T_TMP/keys"
newp=$(openssl pkey -in "$T_TMP/keys/new.key" -pubout -outform DER | base64 -w0)

conf() { # KEYS: the config with that table row
	am_conf "$T_TMP/am.conf" 'dkim: { sign: {
	publish_check = true;
	publish_interval = 1;
	keys = (
		{ name = "old"; domain = "bank.test"; selector = "s1"; algorithm = "rsa-sha256"; file = "'$T_TMP'/keys/old.key"; },
		{ name = "new"; domain = "bank.test"; selector = "s2"; algorithm = "rsa-sha256"; file = "'$T_TMP'/keys/new.key"; },
		{ name = "wrong"; domain = "bank.test"; selector = "s1"; algorithm = "rsa-sha256"; file = "'$T_TMP'/keys/new.key"; },
		{ name = "ghost"; domain = "bank.test"; selector = "s9"; algorithm = "rsa-sha256"; file = "'$T_TMP'/keys/new.key"; },
		{ name = "plain"; domain = "bank.test"; selector = "s3"; algorithm = "rsa-sha256"; file = "'$T_TMP'/keys/new.key"; publish_check = false; },
		{ name = "ed"; domain = "bank.test"; selector = "e1"; algorithm = "ed25519-sha256"; file = "'$T_TMP'/keys/ed.key"; }
	);
	table = ( { from = "*@bank.test"; keys = ['"$1"']; } );
}; };'
}
msg() {
	printf 'From: Alice <alice@bank.test>\nTo: b@mx.test\nSubject: hi %s\n\nhello\n' "$1"
}
# send N: one message; its miltc output in $T_TMP/out.N
send() {
	msg "$1" | miltc_run --ip 127.0.0.1 --helo localhost \
	    --mail-from alice@bank.test > "$T_TMP/out.$1" 2>&1
}
# sels N: the s= of each DKIM-Signature of message N, sorted
sels() {
	sed -n 's/^insheader 0 DKIM-Signature:.* s=\([^;]*\);.*/\1/p' "$T_TMP/out.$1" |
	    sort | tr '\n' ' '
}
# verify N: authmilter-check's dkim results for message N as signed
verify() {
	{
		sed -n 's/^insheader 0 \(DKIM-Signature:.*\)/\1/p' "$T_TMP/out.$1" |
		    while IFS= read -r l; do printf '%b\n' "$l"; done
		msg "$1"
	} | "$check" message --ip 192.0.2.10 --helo mail.bank.test \
	    --mail-from alice@bank.test --dns-conf "$DNS_CONF" \
	    --dns-timeout 2 --authserv-id mx.test 2>&1 |
	    grep -o 'dkim=[a-z]* header.d=[^ ]* header.s=[^ ]*'
}

# 1. The new key in front, its record absent: the old key signs.
conf '"new", "old"'
if ! am_start "$T_TMP/am.conf"; then
	t_fail "daemon starts" "$(cat "$T_TMP/am.log")"
	t_done
	exit 1
fi
wait_log 'listening on' || true
t_eq "start: the unpublished key is named in a warning" \
    "$(grep -c 'DKIM key new (s=s2 d=bank.test): not signing with it: no TXT record at s2._domainkey.bank.test (nxdomain)' "$T_TMP/am.log")" 1
t_eq "start: the old key is published" \
    "$(grep -c 'DKIM key old (s=s1 d=bank.test): published at s1._domainkey.bank.test; signing with it' "$T_TMP/am.log")" 1
send 0
t_eq "unpublished new key: signed with the old key only" "$(sels 0)" "s1 "
t_eq "  ... which verifies" "$(verify 0)" "dkim=pass header.d=bank.test header.s=s1"
sleep 2.5
t_eq "checks every second; the warning is logged once" \
    "$(grep -c 'DKIM key new .*not signing' "$T_TMP/am.log")" 1
checks=$(t_dns_count 's2\._domainkey\.bank\.test')
[ "$checks" -ge 2 ] && t_ok "the record is looked up again ($checks queries)" ||
	t_fail "the record is looked up again" "$checks queries"

# authmilter-check sign checks as the daemon does at start.
msg c | "$check" sign -c "$T_TMP/am.conf" --dns-conf "$DNS_CONF" \
    --dns-timeout 2 >"$T_TMP/csign.out" 2>"$T_TMP/csign.err"
t_eq "check sign: signs with the old key only" \
    "$(sed -n 's/^DKIM-Signature:.* s=\([^;]*\);.*/\1/p' "$T_TMP/csign.out" | tr '\n' ' ')" "s1 "
t_eq "check sign: ... and says why" "$(cat "$T_TMP/csign.err")" \
    "authmilter-check: DKIM key new (s=s2 d=bank.test): not signing with it: no TXT record at s2._domainkey.bank.test (nxdomain)"

# 2. Publish the record while messages flow: each message is signed by
# exactly one key, s1 until the switch and s2 after, never s2 before the
# record was in the zone.
i=1
: > "$T_TMP/done"
(
	while [ $i -le 40 ]; do
		send $i
		echo $i > "$T_TMP/done"
		i=$((i + 1))
		sleep 0.1
	done
) &
LOOP=$!
sleep 1
before=$(cat "$T_TMP/done")
$PY - "$T_TMP/zone.json" "$newp" <<'EOF'
import json, sys
z = json.load(open(sys.argv[1]))
z["s2._domainkey.bank.test"] = [
    {"type": "TXT", "ttl": 1, "data": "v=DKIM1; k=rsa; p=" + sys.argv[2]}]
json.dump(z, open(sys.argv[1], "w"))
EOF
t_dns_reload
wait "$LOOP"
if wait_log 'DKIM key new \(s=s2 d=bank.test\): published at s2._domainkey.bank.test; signing with it'; then
	t_ok "the switch is logged"
else
	t_fail "the switch is logged" "$(tail -n 5 "$T_TMP/am.log")"
fi
seq=
bad=
for n in $(seq 1 40); do
	s=$(sels $n)
	case $s in
	"s1 ") seq="${seq}1" ;;
	"s2 ") seq="${seq}2" ;;
	*) bad="$bad $n:[$s]$(grep '^reply eom' "$T_TMP/out.$n")" ;;
	esac
	if [ "$s" = "s2 " ] && [ "$n" -le "$before" ]; then
		bad="$bad $n:s2-before-publication"
	fi
done
t_eq "every message signed by exactly one key" "$bad" ""
case $seq in
1*2) t_ok "s1 until the switch, then s2 ($seq; published after $before)" ;;
*) t_fail "s1 until the switch, then s2" "$seq" ;;
esac
echo "$seq" | grep -q '21' && t_fail "no return to s1 after the switch" "$seq" ||
	t_ok "no return to s1 after the switch"
t_eq "after the switch: the new key's signature verifies" "$(verify 40)" \
    "dkim=pass header.d=bank.test header.s=s2"

# 3. A reload keeps the state: no new warning, still s2 at once.
kill -HUP "$AM_PID"
wait_log 'configuration reloaded' || true
send 41
t_eq "after a reload: still the new key" "$(sels 41)" "s2 "
t_eq "  ... the switch is not logged again" \
    "$(grep -c 'DKIM key new .*published at' "$T_TMP/am.log")" 1

# 3b. A failed lookup (SERVFAIL) keeps what the last check found.
$PY - "$T_TMP/zone.json" <<'EOF'
import json, sys
z = json.load(open(sys.argv[1]))
z["s2._domainkey.bank.test"] = "SERVFAIL"
json.dump(z, open(sys.argv[1], "w"))
EOF
t_dns_reload
sf=$(t_dns_count 's2\._domainkey\.bank\.test')
sleep 3
[ "$(t_dns_count 's2\._domainkey\.bank\.test')" -gt "$sf" ] &&
	t_ok "SERVFAIL: the record was looked up again" ||
	t_fail "SERVFAIL: the record was looked up again"
send 45
t_eq "SERVFAIL: the key stays in use" "$(sels 45)" "s2 "
t_eq "  ... and nothing is logged" \
    "$(grep -c 'DKIM key new .*not signing' "$T_TMP/am.log")" 1

# 4. No usable key: a signing failure, tempfail by default; a record with
# another key is not this key's.
conf '"ghost", "wrong"'
: > "$T_TMP/am.log"
kill -HUP "$AM_PID"
wait_log 'configuration reloaded' || true
t_eq "no record: warned" \
    "$(grep -c 'DKIM key ghost (s=s9 d=bank.test): not signing with it: no TXT record at s9._domainkey.bank.test (nxdomain)' "$T_TMP/am.log")" 1
t_eq "another key in the record: warned" \
    "$(grep -c 'DKIM key wrong (s=s1 d=bank.test): not signing with it: the record at s1._domainkey.bank.test holds another key' "$T_TMP/am.log")" 1
send 42
t_eq "no published key: tempfail (on_error)" "$(grep '^reply eom' "$T_TMP/out.42")" \
    "reply eom: tempfail 451 4.3.0 DKIM signing failed, try again later"
t_eq "  ... unsigned" "$(sels 42)" ""

# 5. A key without publish_check is always used, beside the first
# published one: one per algorithm, so "plain" (listed second) is dropped
# only when it shares the algorithm of a published key before it.
conf '"ghost", "plain"'
: > "$T_TMP/am.log"
kill -HUP "$AM_PID"
wait_log 'configuration reloaded' || true
send 43
t_eq "publish_check = false on a key: used without a record" "$(sels 43)" "s3 "

# 5b. RSA and Ed25519 side by side: the first usable key of each.
conf '"ghost", "ed", "new", "old"'
: > "$T_TMP/am.log"
kill -HUP "$AM_PID"
wait_log 'configuration reloaded' || true
send 46
t_eq "RSA and Ed25519: one published key of each signs" "$(sels 46)" "e1 s2 "

# 6. The old key and its record go: the row signs with the new key.
conf '"new"'
: > "$T_TMP/am.log"
kill -HUP "$AM_PID"
wait_log 'configuration reloaded' || true
send 44
t_eq "old key removed: the new key signs" "$(sels 44)" "s2 "

am_stop
t_eq "daemon stops cleanly" "$AM_RC" 0
t_done
