#!/bin/sh
# Policy in the daemon, over the milter protocol: SPF reject_fail (550
# 5.7.23 at MAIL FROM) and its temperror (451 4.7.24), DMARC enforcement
# (a p=reject spoof gets 550 5.7.1 while a DKIM-aligned message from the
# same domain passes; quarantine to the hold queue or only marked;
# enforce = false only records; a DMARC temperror defers p=reject but
# not p=none; the HELO argument stays quoted in Received-SPF), outbound
# signing by what the MTA tells (sign_networks, SMTP AUTH, {daemon_name})
# and none for a trusted relay, local-policy exemptions (trusted
# forwarders, exempt domains) reported and not enforced, and signatures over
# dkim.max_signatures noted in the A-R and the log line.
. "$top_srcdir/t/lib/common.sh"
. "$top_srcdir/t/integration/lib.sh"

data=$top_srcdir/t/data/msgauth
check=$top_builddir/milter/authmilter-check
$PY - "$data/zone.json" "$T_TMP/zone.json" <<'EOPY'
import json, sys
zone = json.load(open(sys.argv[1]))
zone["tempfail.test"] = ["SERVFAIL"]
json.dump(zone, open(sys.argv[2], "w"))
EOPY
t_dns_start "$T_TMP/zone.json"
mkdir -p "$T_TMP/keys"
cp "$data/s1.key" "$data/e1.key" "$T_TMP/keys/"
chmod 600 "$T_TMP/keys/"*.key
chmod 755 "$T_TMP/keys"
[ -n "$AM_USER" ] && chown "$AM_USER" "$T_TMP/keys/"*.key
sed "s|@KEYDIR@|$T_TMP/keys|g" "$data/sign.conf" > "$T_TMP/sign.conf"
"$check" sign -c "$T_TMP/sign.conf" < "$data/signed.src" > "$T_TMP/signed.eml" ||
    t_fail "sign the test message"

reply() { # STAGE OUTPUT
	printf '%s\n' "$2" | grep "^reply $1:"
}

# 1. SPF enforcement at MAIL FROM.
am_conf "$T_TMP/am.conf" 'spf: { reject_fail = true; };'
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
out=$(miltc_run --ip 192.0.2.66 --helo mail.attacker.test --mail-from alice@bank.test < "$data/spoof-reject.eml")
t_eq "spf fail rejected at MAIL FROM" "$(reply mail "$out" | cut -d' ' -f1-5)" \
    "reply mail: reject 550 5.7.23"
t_eq "nothing after the MAIL FROM reject" "$(reply eom "$out")" ""
out=$(miltc_run --ip 192.0.2.10 --helo mail.bank.test --mail-from alice@bank.test < "$T_TMP/signed.eml")
t_eq "spf pass goes on" "$(reply eom "$out")" "reply eom: accept"
out=$(miltc_run --ip 192.0.2.10 --helo mail.bank.test --mail-from a@tempfail.test < "$T_TMP/signed.eml")
t_eq "spf temperror at MAIL FROM is 451 4.7.24" "$(reply mail "$out" | cut -d' ' -f1-5)" \
    "reply mail: tempfail 451 4.7.24"
am_stop

# 2. DMARC enforcement (the default): reject, quarantine, aligned pass.
am_conf "$T_TMP/am.conf"
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
out=$(miltc_run --ip 192.0.2.66 --helo mail.attacker.test --mail-from x@attacker.test < "$data/spoof-reject.eml")
t_eq "p=reject spoof gets 550 5.7.1 at end of message" "$(reply eom "$out")" \
    "reply eom: reject 550 5.7.1 Email rejected per DMARC policy for bank.test"
out=$(miltc_run --ip 192.0.2.99 --helo list.example --mail-from alice@bank.test < "$T_TMP/signed.eml")
t_eq "DKIM-aligned message from the same domain accepted" "$(reply eom "$out")" "reply eom: accept"
t_eq "  ... with dmarc=pass" "$(printf '%s\n' "$out" | grep -c 'Authentication-Results:.*dmarc=pass .*header.from=bank.test')" 1
t_eq "  ... and spf=fail" "$(printf '%s\n' "$out" | grep -c 'Authentication-Results:.*spf=fail [^;]*smtp.mailfrom=bank.test')" 1
out=$(miltc_run --ip 192.0.2.66 --helo mail.attacker.test --mail-from x@attacker.test < "$data/quarantine.eml")
t_eq "p=quarantine goes to the hold queue" "$(printf '%s\n' "$out" | grep '^quarantine:')" \
    "quarantine: DMARC policy quarantine for shop.test"
t_eq "  ... and is accepted" "$(reply eom "$out")" "reply eom: accept"
if wait_log 'dmarc=fail header.from=shop.test policy.dmarc=quarantine action=quarantine$'; then
	t_ok "quarantine in the log line"
else
	t_fail "quarantine in the log line" "$(tail -n 2 "$T_TMP/am.log")"
fi
out=$(miltc_run --ip 192.0.2.66 --helo mail.attacker.test --mail-from x@attacker.test < "$data/two-from.eml")
t_eq "two From fields rejected" "$(reply eom "$out" | cut -d' ' -f1-5)" "reply eom: reject 550 5.7.1"
# RFC 9989: p=none must not change mail handling, a DNS error included.
out=$(miltc_run --ip 192.0.2.50 --helo mail.pnone.test --mail-from a@pnone.test < "$data/pnone-temperror.eml")
t_eq "p=none with a DMARC temperror is accepted" "$(reply eom "$out")" "reply eom: accept"
t_eq "  ... with dmarc=temperror" "$(printf '%s\n' "$out" | grep -c 'Authentication-Results:.*dmarc=temperror .*header.from=pnone.test')" 1
out=$(miltc_run --ip 192.0.2.50 --helo mail.rejslow.test --mail-from a@rejslow.test < "$data/reject-temperror.eml")
t_eq "p=reject with a DMARC temperror is deferred" "$(reply eom "$out" | cut -d' ' -f1-5)" "reply eom: tempfail 451 4.7.1"
# The HELO argument is the client's text: it must stay inside its quotes.
out=$(miltc_run --ip 192.0.2.66 --helo 'evil"; identity=helo; x="' --mail-from x@attacker.test < "$data/helo-quote.eml")
# (miltc writes a backslash as \\ and a fold as \n\t.)
t_eq "HELO quote and backslash escaped in Received-SPF" \
    "$(printf '%s\n' "$out" | grep '^insheader 0 Received-SPF:' |
	sed 's/\\n\\t/ /g' | grep -o 'helo="[^;]*; [^;]*; [^;]*;')" \
    'helo="evil\\"; identity=helo; x=\\"";'
am_stop

# 3. quarantine = "header": accepted, marked, not held.
am_conf "$T_TMP/am.conf" 'dmarc: { quarantine = "header"; };'
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
out=$(miltc_run --ip 192.0.2.66 --helo mail.attacker.test --mail-from x@attacker.test < "$data/quarantine.eml")
t_eq "quarantine=header: not held" "$(printf '%s\n' "$out" | grep -c '^quarantine:')" 0
t_eq "quarantine=header: marked in the A-R" \
    "$(printf '%s\n' "$out" | grep -c 'Authentication-Results:.*dmarc=fail (p=quarantine sp=quarantine dis=quarantine)')" 1
am_stop

# 4. enforce = false: only recorded.
am_conf "$T_TMP/am.conf" 'dmarc: { enforce = false; };'
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
out=$(miltc_run --ip 192.0.2.66 --helo mail.attacker.test --mail-from x@attacker.test < "$data/spoof-reject.eml")
t_eq "enforce=false: spoof accepted" "$(reply eom "$out")" "reply eom: accept"
t_eq "enforce=false: dmarc=fail recorded" \
    "$(printf '%s\n' "$out" | grep -c 'Authentication-Results:.*dmarc=fail (p=reject sp=reject dis=reject)')" 1
am_stop

# 4b. Local policy exemptions: a trusted forwarder (by forward-confirmed
# PTR name) and an exempt author domain. DMARC still fails and says so in
# the A-R field and the log line, with the RFC 9990 reason, but the p=reject
# spoof is accepted; a forwarder whose PTR name does not resolve back is
# enforced.
am_conf "$T_TMP/am.conf" 'dmarc: { trusted_forwarders = ["list.fwd.test", "claims.fwd.test"]; };'
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
out=$(miltc_run --ip 192.0.2.66 --helo mail.attacker.test --mail-from x@attacker.test \
    --queue-id FWD1 < "$data/spoof-reject.eml")
t_eq "trusted forwarder: accepted" "$(reply eom "$out")" "reply eom: accept"
t_eq "trusted forwarder: dmarc=fail with the override in the A-R" \
    "$(printf '%s\n' "$out" | grep -c 'Authentication-Results:.*dmarc=fail (p=reject sp=reject dis=reject override=trusted_forwarder)')" 1
if wait_log '^.*FWD1: .*dmarc=fail header.from=bank.test policy.dmarc=reject override=trusted_forwarder action=accept$'; then
	t_ok "trusted forwarder: the log line says dmarc=fail and the override"
else
	t_fail "trusted forwarder: the log line says dmarc=fail and the override" "$(tail -n 2 "$T_TMP/am.log")"
fi
out=$(miltc_run --ip 192.0.2.67 --helo mail.attacker.test --mail-from x@attacker.test < "$data/spoof-reject.eml")
t_eq "PTR name that does not resolve back: enforced" "$(reply eom "$out" | cut -d' ' -f1-5)" \
    "reply eom: reject 550 5.7.1"
am_stop
am_conf "$T_TMP/am.conf" 'dmarc: { exempt_domains = ["bank.test"]; };'
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
out=$(miltc_run --ip 192.0.2.66 --helo mail.attacker.test --mail-from x@attacker.test \
    --queue-id EXM1 < "$data/spoof-reject.eml")
t_eq "exempt domain: accepted" "$(reply eom "$out")" "reply eom: accept"
if wait_log '^.*EXM1: .*dmarc=fail header.from=bank.test policy.dmarc=reject override=local_policy action=accept$'; then
	t_ok "exempt domain: the log line says dmarc=fail and local_policy"
else
	t_fail "exempt domain: the log line says dmarc=fail and local_policy" "$(tail -n 2 "$T_TMP/am.log")"
fi
am_stop

# 5. Outbound: a client in sign_networks, an authenticated one and one on
# the service named ORIGINATING get signed (RSA and Ed25519), with no A-R;
# an external unauthenticated one does not, nor does a relay that is only
# in trusted_networks (the spoof of issue 13: it is verified, and the
# p=reject failure is refused), nor another {daemon_name}.
am_conf "$T_TMP/am.conf" "trusted_networks = [\"192.0.2.0/24\"];
sign_daemon_names = [\"ORIGINATING\"];
$(sed -n '/^dkim:/,$p' "$T_TMP/sign.conf")"
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
out=$(miltc_run --ip 127.0.0.1 --helo localhost --mail-from alice@bank.test < "$data/signed.src")
t_eq "sign_networks: two signatures inserted at the top" \
    "$(printf '%s\n' "$out" | grep -c '^insheader 0 DKIM-Signature: v=1; a=\(rsa\|ed25519\)-sha256;')" 2
t_eq "sign_networks: no A-R" "$(printf '%s\n' "$out" | grep -c 'Authentication-Results')" 0
t_eq "sign_networks: the log line names each signature" \
    "$(grep -c ': dkim-sign=signed header.d=bank.test header.s=s1 header.a=rsa-sha256 dkim-sign=signed header.d=bank.test header.s=e1 header.a=ed25519-sha256 outbound signatures=2 action=accept$' "$T_TMP/am.log")" 1
out=$(miltc_run --ip 198.51.100.7 --helo laptop --mail-from alice@bank.test \
    --macro 'mail:{auth_authen}=alice' < "$data/signed.src")
t_eq "SMTP AUTH: signed" "$(printf '%s\n' "$out" | grep -c '^insheader 0 DKIM-Signature:')" 2
out=$(miltc_run --ip 198.51.100.7 --helo laptop --mail-from alice@bank.test \
    --macro 'connect:{daemon_name}=ORIGINATING' < "$data/signed.src")
t_eq "daemon_name ORIGINATING: signed" "$(printf '%s\n' "$out" | grep -c '^insheader 0 DKIM-Signature:')" 2
out=$(miltc_run --ip 198.51.100.7 --helo laptop --mail-from alice@bank.test \
    --macro 'connect:{daemon_name}=mx.test' < "$data/signed.src")
t_eq "another daemon_name: not signed" "$(printf '%s\n' "$out" | grep -c 'DKIM-Signature')" 0
out=$(miltc_run --ip 198.51.100.7 --helo laptop --mail-from alice@bank.test < "$data/signed.src")
t_eq "unauthenticated outsider: not signed" "$(printf '%s\n' "$out" | grep -c 'DKIM-Signature')" 0
out=$(miltc_run --ip 192.0.2.20 --helo relay.mx.test --mail-from alice@bank.test < "$data/signed.src")
t_eq "trusted relay: not signed" "$(printf '%s\n' "$out" | grep -c 'DKIM-Signature')" 0
t_eq "trusted relay: verified, dmarc=fail" \
    "$(printf '%s\n' "$out" | grep -c 'Authentication-Results: mx.test;.*dmarc=fail')" 1
t_eq "trusted relay: the p=reject spoof refused" "$(reply eom "$out" | cut -d' ' -f1-5)" \
    "reply eom: reject 550 5.7.1"
am_stop
am_conf "$T_TMP/am.conf" "sign_authenticated = false;
$(sed -n '/^dkim:/,$p' "$T_TMP/sign.conf")"
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
out=$(miltc_run --ip 198.51.100.7 --helo laptop --mail-from alice@bank.test \
    --macro 'mail:{auth_authen}=alice' < "$data/signed.src")
t_eq "sign_authenticated = false: SMTP AUTH alone does not sign" \
    "$(printf '%s\n' "$out" | grep -c 'DKIM-Signature')" 0
am_stop

# 6. Signatures over dkim.max_signatures: not checked, but said so.
am_conf "$T_TMP/am.conf" 'dkim: { max_signatures = 1; };'
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
out=$(miltc_run --ip 192.0.2.99 --helo list.example --mail-from alice@bank.test < "$T_TMP/signed.eml")
t_eq "max_signatures=1: the second signature noted in the A-R" \
    "$(printf '%s\n' "$out" | grep -c 'dkim=pass (1 signature over the limit not checked)')" 1
if wait_log 'dkim_ignored=1 .*action=accept$'; then
	t_ok "max_signatures=1: dkim_ignored=1 in the log line"
else
	t_fail "max_signatures=1: dkim_ignored=1 in the log line" "$(tail -n 2 "$T_TMP/am.log")"
fi
am_stop

t_done
