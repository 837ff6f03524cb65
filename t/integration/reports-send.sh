#!/bin/sh
# authmilter-report send, for real (RFC 9990): periods recorded by the
# daemon are signed with our signing table (the mail verifies with dkimpy
# and passes DMARC through authmilter-check), handed to sendmail(1) as
# "sendmail -oi -f FROM -- RCPT" and marked sent once; a failing sendmail,
# a crash between the hand-off and the mark, and a store that fails while
# a run marks all leave the period unsent, and the next run sends it with
# the same report id and file name; reports are paced; a psd=y record gets
# the aggregate report and nothing else. sendmail is t/tools/fake-sendmail,
# which keeps what it is handed.
. "$top_srcdir/t/lib/common.sh"
. "$top_srcdir/t/integration/lib.sh"

data=$top_srcdir/t/data/msgauth
interop=$top_srcdir/t/conformance/dkim_interop.py
rep=$top_builddir/milter/authmilter-report
check=$top_builddir/milter/authmilter-check

$PY - "$data/zone.json" "$T_TMP/zone.json" <<'EOPY'
import json, sys
zone = json.load(open(sys.argv[1]))
# The reports' own domain: signed with s1's key, p=reject, no SPF pass.
zone["s1._domainkey.mx.test"] = zone["s1._domainkey.bank.test"]
zone["_dmarc.mx.test"] = [{"type": "TXT", "data": "v=DMARC1; p=reject"}]
zone["mx.test"] = [{"type": "TXT", "data": "v=spf1 -all"}]
# A public suffix domain asking for aggregate and failure reports.
# A sibling in the same organization: shop.corp.test reports to
# reports.corp.test, both under corp.test's record (no authorization
# needed); and one outside it, at corp-reports.test (needed, absent).
zone["_dmarc.corp.test"] = [{"type": "TXT", "data": "v=DMARC1; p=none"}]
zone["_dmarc.shop.corp.test"] = [{"type": "TXT", "data":
    "v=DMARC1; p=reject; rua=mailto:d@reports.corp.test, mailto:e@corp-reports.test"}]
zone["_dmarc.psd.test"] = [{"type": "TXT", "data":
    "v=DMARC1; p=reject; psd=y; rua=mailto:agg@psd.test; ruf=mailto:forensic@psd.test"}]
json.dump(zone, open(sys.argv[2], "w"))
EOPY
t_dns_start "$T_TMP/zone.json"
mkdir -p "$T_TMP/keys" "$T_TMP/db" "$T_TMP/mail" "$T_TMP/dry"
cp "$data/s1.key" "$T_TMP/keys/"
chmod 600 "$T_TMP/keys/s1.key"
[ -n "$AM_USER" ] && chown "$AM_USER" "$T_TMP/keys/s1.key" "$T_TMP/db"
db=$T_TMP/db/reports.db
mail=$T_TMP/mail
FAKE_SENDMAIL_DIR=$mail
export FAKE_SENDMAIL_DIR
sign="dkim: { sign: {
	keys = ({ name = \"r\"; domain = \"mx.test\"; selector = \"s1\"; algorithm = \"rsa-sha256\"; file = \"$T_TMP/keys/s1.key\"; });
	table = ({ from = \"*@mx.test\"; keys = [\"r\"]; });
}; };"
conf_with() { # SENDMAIL [MORE]: the config, with that reports.sendmail
	am_conf "$T_TMP/am.conf" "reports: { store = \"sqlite:$db\"; org_name = \"Test\"; from = \"dmarc@mx.test\"; sendmail = \"$1\"; max_per_minute = 30; ${2:-} };
$sign"
}
conf_with "$top_srcdir/t/tools/fake-sendmail"

# Two periods: bank.test (3 spoofs) and psd.test (1 spoof of a name below
# it, which finds the PSD's record).
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
for i in 1 2 3; do
	miltc_run --ip 192.0.2.66 --helo mail.attacker.test \
	    --mail-from x@attacker.test --rcpt bob@mx.test \
	    < "$data/spoof-reject.eml" >/dev/null
done
sed 's/@bank.test/@shop.psd.test/' "$data/spoof-reject.eml" > "$T_TMP/psd.eml"
miltc_run --ip 192.0.2.66 --helo mail.attacker.test \
    --mail-from x@attacker.test --rcpt bob@mx.test < "$T_TMP/psd.eml" >/dev/null
am_stop
t_eq "daemon stopped cleanly" "$AM_RC" 0
q() { sqlite3 -batch -noheader -separator ' ' "$db" "$1"; }
t_eq "two periods recorded, with their messages" \
    "$(q 'SELECT domain, SUM(count) FROM report_rows GROUP BY domain ORDER BY domain')" \
    "bank.test 3
psd.test 1"
t_eq "  ... the PSD's with psd=y" "$(q "SELECT psd FROM periods WHERE domain = 'psd.test'")" 1

# The dry run (marks nothing, but gives each period its report id); every
# case below starts from the store as it leaves it.
begin=$(( $(date -u +%s) / 86400 * 86400 ))
now=$((begin + 86400 + 600))
"$rep" -c "$T_TMP/am.conf" send --dry-run "$T_TMP/dry" --now "$now" >/dev/null 2>&1
t_eq "dry run: two reports" "$(ls "$T_TMP/dry"/*.xml.gz | wc -l)" 2
sqlite3 "$db" ".backup $T_TMP/base.db"
# part FILE: the report attachment's name and its bytes (base64), and the
# Subject's report id, one per line.
part() {
	$PY - "$1" <<'EOPY'
import base64, email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
subj = m["Subject"].split()
print(subj[subj.index("Report-ID:") + 1])
for p in m.walk():
    if p.get_content_type() == "application/gzip":
        print(p.get_filename())
        print(base64.b64encode(p.get_payload(decode=True)).decode())
EOPY
}
reset_store() { cp "$T_TMP/base.db" "$db"; rm -f "$db-wal" "$db-shm" "$mail"/*; }
send() { "$rep" -c "$T_TMP/am.conf" send --now "$now" > "$T_TMP/send.out" 2> "$T_TMP/send.err"; }

# 1. The real run: the dry run's reports, handed to sendmail, marked sent.
send
t_eq "send: exit status" "$?" 0
t_eq "send: the summary" "$(tail -1 "$T_TMP/send.out")" \
    "2 reports, 0 periods skipped, 0 failed"
t_eq "send: nothing on stderr" "$(cat "$T_TMP/send.err")" ""
t_eq "sendmail: two hand-offs, each with its own recipient" \
    "$(cat "$mail/1.args" "$mail/2.args")" \
    "-oi -f dmarc@mx.test -- dmarc@bank.test
-oi -f dmarc@mx.test -- agg@psd.test"
t_eq "psd=y: no mail for the ruf address" \
    "$(grep -l 'forensic@' "$mail"/* 2>/dev/null)" ""
t_eq "list: both periods sent, at --now" \
    "$("$rep" -c "$T_TMP/am.conf" list | sed 's/.* state=//')" \
    "sent@$now
sent@$now"
t_eq "store: the hand-off's destinations" \
    "$(q 'SELECT domain, sent_to FROM periods ORDER BY domain')" \
    "bank.test dmarc@bank.test
psd.test agg@psd.test"
for n in 1 2; do
	part "$mail/$n.eml" > "$T_TMP/part.$n"
	f=$(sed -n 2p "$T_TMP/part.$n")
	t_eq "mail $n: the attachment is the dry run's file, byte for byte" \
	    "$(sed -n 3p "$T_TMP/part.$n")" \
	    "$(base64 -w0 "$T_TMP/dry/$f")"
	t_eq "mail $n: the Subject's id is the file name's" \
	    "$(sed -n 1p "$T_TMP/part.$n")" \
	    "$(echo "$f" | sed 's/.*!\([A-Za-z0-9]*\)\.xml\.gz$/\1/')"
done
t_eq "pacing: 30 a minute puts 2 s between hand-offs" \
    "$($PY -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]) >= 1.95)' \
        "$(cat "$mail/1.time")" "$(cat "$mail/2.time")")" True

# The mail passes DKIM (dkimpy) and DMARC (authmilter-check), as RFC 9990
# wants of a report.
$PY "$interop" crlf "$mail/1.eml" "$T_TMP/1.crlf"
printf 'report\t%s\tpass\n' "$T_TMP/1.crlf" |
    DKIM_NOW=$now $PY "$interop" verify-batch --port "$T_DNS_PORT" > "$T_TMP/dkimpy.out" 2>&1
t_eq "dkimpy verifies the report's signature" "$(cat "$T_TMP/dkimpy.out")" "ok	report"
ar=$("$check" message -c "$T_TMP/am.conf" --now "$now" --ip 192.0.2.25 --helo mx.test \
    --mail-from dmarc@mx.test < "$mail/1.eml" 2>&1)
t_eq "authmilter-check: dkim=pass for mx.test" \
    "$(printf '%s\n' "$ar" | grep -c 'dkim=pass [^;]*header.d=mx.test')" 1
t_eq "authmilter-check: dmarc=pass" \
    "$(printf '%s\n' "$ar" | grep -c 'dmarc=pass [^;]*header.from=mx.test')" 1

# 2. Once: a second run sends nothing.
send
t_eq "a second run: nothing left" "$(tail -1 "$T_TMP/send.out")" \
    "0 reports, 0 periods skipped, 0 failed"
t_eq "  ... and no new hand-off" "$(ls "$mail"/*.args | wc -l)" 2

# 3. A failing sendmail leaves the period unsent; the next run sends it.
reset_store
touch "$mail/fail"
send
t_eq "failing sendmail: exit status" "$?" 1
t_eq "failing sendmail: said, for that period" "$(head -1 "$T_TMP/send.err")" \
    "authmilter-report: bank.test: not sent: $top_srcdir/t/tools/fake-sendmail exited with status 75; the next run tries again"
t_eq "failing sendmail: the other period still sent" \
    "$(tail -1 "$T_TMP/send.out")" "1 reports, 0 periods skipped, 1 failed"
t_eq "failing sendmail: bank.test unsent" \
    "$(q "SELECT sent_at IS NULL FROM periods WHERE domain = 'bank.test'")" 1
send
t_eq "the next run sends it" "$(tail -1 "$T_TMP/send.out")" \
    "1 reports, 0 periods skipped, 0 failed"
t_eq "  ... to bank.test" "$(cat "$mail/2.args")" "-oi -f dmarc@mx.test -- dmarc@bank.test"
part "$mail/2.eml" > "$T_TMP/part.retry"
t_eq "  ... the same report as before the failure" "$(cat "$T_TMP/part.retry")" \
    "$(cat "$T_TMP/part.1")"

# 4. A crash after the hand-off, before the mark: sent again, the same id
# and file name, the same bytes.
reset_store
touch "$mail/kill"
send
t_eq "killed between hand-off and mark" "$?" 137
t_eq "  ... bank.test was handed over" "$(cat "$mail/1.args")" \
    "-oi -f dmarc@mx.test -- dmarc@bank.test"
t_eq "  ... and is not marked sent" "$(q 'SELECT COUNT(*) FROM periods WHERE sent_at IS NOT NULL')" 0
send
t_eq "the next run sends both" "$(tail -1 "$T_TMP/send.out")" \
    "2 reports, 0 periods skipped, 0 failed"
part "$mail/1.eml" > "$T_TMP/part.killed"
part "$mail/2.eml" > "$T_TMP/part.resent"
t_eq "  ... the resent report has the id, file name and bytes of the first" \
    "$(cat "$T_TMP/part.resent")" "$(cat "$T_TMP/part.killed")"
t_eq "  ... which are the dry run's and the first run's" \
    "$(cat "$T_TMP/part.resent")" "$(cat "$T_TMP/part.1")"

# 5. The store fails while the run marks (locked by another process past
# its 200 ms): sent but not marked, said so; the next run sends it again,
# with the same id, and marks it.
reset_store
echo "$db" > "$mail/lock"
send
t_eq "store locked at the mark: exit status" "$?" 1
t_eq "  ... said" "$(head -1 "$T_TMP/send.err")" \
    "authmilter-report: bank.test: sent, but not marked sent (store: sqlite: step: database is locked (waited 200 ms)): the next run sends it again, with the same report id"
# The lock is held 3 s from the first hand-off.
i=0
while ! sqlite3 "$db" 'BEGIN IMMEDIATE; COMMIT;' 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
t_eq "  ... bank.test unsent" \
    "$(q "SELECT sent_at IS NULL FROM periods WHERE domain = 'bank.test'")" 1
rm -f "$mail"/*
send
t_eq "the next run sends what was not marked" "$?" 0
t_eq "  ... bank.test again, the same report" \
    "$(part "$mail/1.eml")" "$(cat "$T_TMP/part.1")"
t_eq "  ... now marked" "$(q 'SELECT COUNT(*) FROM periods WHERE sent_at IS NULL')" 0

# 6. No sendmail at the configured path.
reset_store
conf_with "/nonexistent/sendmail"
send
t_eq "missing sendmail: exit status" "$?" 1
t_eq "missing sendmail: said" "$(head -1 "$T_TMP/send.err")" \
    "authmilter-report: bank.test: not sent: /nonexistent/sendmail: No such file or directory; the next run tries again"
t_eq "missing sendmail: nothing marked" \
    "$(q 'SELECT COUNT(*) FROM periods WHERE sent_at IS NOT NULL')" 0

# 6b. Courtesy and abuse limits: reports.min_messages, reports.blocklist.
reset_store
conf_with "$top_srcdir/t/tools/fake-sendmail" "min_messages = 2;"
send
t_eq "min_messages = 2: psd.test's single message gets no report" \
    "$?:$(tail -1 "$T_TMP/send.out"):$(cat "$mail"/*.args)" \
    "0:1 reports, 1 periods skipped, 0 failed:-oi -f dmarc@mx.test -- dmarc@bank.test"
reset_store
conf_with "$top_srcdir/t/tools/fake-sendmail" "blocklist = [\"bank.test\"];"
send
rc=$?
t_eq "blocklist: bank.test's destination left out, said" "$(cat "$T_TMP/send.err")" \
    "bank.test: destination mailto:dmarc@bank.test left out: on reports.blocklist
bank.test: no usable rua destination: no report"
t_eq "blocklist: only psd.test sent" \
    "$rc:$(tail -1 "$T_TMP/send.out"):$(cat "$mail"/*.args)" \
    "0:1 reports, 1 periods skipped, 0 failed:-oi -f dmarc@mx.test -- agg@psd.test"
t_eq "blocklist: bank.test stays unsent" \
    "$(q "SELECT sent_at IS NULL FROM periods WHERE domain = 'bank.test'")" 1
conf_with "$top_srcdir/t/tools/fake-sendmail"

# 7. No signing-table row for reports.from: nothing is sent unsigned.
reset_store
am_conf "$T_TMP/am.conf" "reports: { store = \"sqlite:$db\"; org_name = \"Test\"; from = \"dmarc@elsewhere.test\"; sendmail = \"$top_srcdir/t/tools/fake-sendmail\"; };
$sign"
send
t_eq "no signing row: exit status" "$?" 1
t_eq "no signing row: said" "$(head -1 "$T_TMP/send.err")" \
    "authmilter-report: bank.test: reports.from dmarc@elsewhere.test has no signing-table row, and an unsigned report fails DMARC"
t_eq "no signing row: no hand-off" "$(ls "$mail" | wc -l)" 0

# 7b. Rotation (publish_check): a new key in front of the row, its record
# not yet published: the reports are signed with the old key alone, as the
# daemon's mail would be; with the unpublished key alone, nothing is sent.
reset_store
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$T_TMP/keys/s2.key" 2>/dev/null
chmod 600 "$T_TMP/keys/s2.key"
rot_conf() { # ROW: the config with that table row
	am_conf "$T_TMP/am.conf" "reports: { store = \"sqlite:$db\"; org_name = \"Test\"; from = \"dmarc@mx.test\"; sendmail = \"$top_srcdir/t/tools/fake-sendmail\"; };
dkim: { sign: {
	publish_check = true;
	keys = ({ name = \"r\"; domain = \"mx.test\"; selector = \"s1\"; algorithm = \"rsa-sha256\"; file = \"$T_TMP/keys/s1.key\"; },
		{ name = \"n\"; domain = \"mx.test\"; selector = \"s2\"; algorithm = \"rsa-sha256\"; file = \"$T_TMP/keys/s2.key\"; });
	table = ({ from = \"*@mx.test\"; keys = [$1]; });
}; };"
}
rot_conf '"n", "r"'
send
t_eq "rotation: sent" "$?:$(tail -1 "$T_TMP/send.out")" "0:2 reports, 0 periods skipped, 0 failed"
t_eq "  ... the unpublished key said" "$(cat "$T_TMP/send.err")" \
    "authmilter-report: DKIM key n (s=s2 d=mx.test): not signing with it: no TXT record at s2._domainkey.mx.test (nxdomain)"
t_eq "  ... each report signed once, with s1" \
    "$(cat "$mail"/*.eml | grep -i '^DKIM-Signature:' | grep -o ' s=[a-z0-9]*;' | tr '\n' ' ')" \
    " s=s1;  s=s1; "
reset_store
rot_conf '"n"'
send
t_eq "rotation, no published key: exit status" "$?" 1
t_eq "  ... said" "$(sed -n 2p "$T_TMP/send.err")" \
    "authmilter-report: bank.test: no published key for *@mx.test (publish_check): an unsigned report fails DMARC"
t_eq "  ... no hand-off" "$(ls "$mail" | wc -l)" 0

# 8. Destinations by Organizational Domain (RFC 9989's tree walk): a host
# under the same one needs no authorization, another does.
rm -f "$db" "$db-wal" "$db-shm"
conf_with "$top_srcdir/t/tools/fake-sendmail"
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
sed 's/@bank.test/@shop.corp.test/' "$data/spoof-reject.eml" > "$T_TMP/corp.eml"
miltc_run --ip 192.0.2.66 --helo mail.attacker.test \
    --mail-from x@attacker.test --rcpt bob@mx.test < "$T_TMP/corp.eml" >/dev/null
am_stop
send
t_eq "same organization: sent, to the sibling only" "$(cat "$mail/1.args")" \
    "-oi -f dmarc@mx.test -- d@reports.corp.test"
t_eq "  ... the other organization left out, said" "$(cat "$T_TMP/send.err")" \
    "shop.corp.test: destination mailto:e@corp-reports.test left out: external, and no _report._dmarc authorization"
t_done
