#!/bin/sh
# Recording for aggregate reports, through the real daemon over the milter
# protocol: with a reports group every DMARC pass or fail under a policy
# record becomes a row in the store, identical tuples counted (the counts
# equal the messages sent, per row), the DKIM and SPF results those of the
# messages' Authentication-Results; without the group nothing is
# recorded; the reasons for t=y and enforce = false are recorded; a store
# that cannot be written never holds up mail, and the
# drops are counted in the log.
. "$top_srcdir/t/lib/common.sh"
. "$top_srcdir/t/integration/lib.sh"

data=$top_srcdir/t/data/msgauth
check=$top_builddir/milter/authmilter-check
# shop.test asks for reports at two external hosts; only auth.example
# authorizes it (RFC 9990 4).
$PY - "$data/zone.json" "$T_TMP/zone.json" <<'EOPY'
import json, sys
zone = json.load(open(sys.argv[1]))
zone["_dmarc.shop.test"] = [{"type": "TXT", "data":
    "v=DMARC1; p=quarantine; rua=mailto:a@reports.example,mailto:b@auth.example!10m"}]
zone["shop.test._report._dmarc.auth.example"] = [{"type": "TXT", "data": "v=DMARC1"}]
json.dump(zone, open(sys.argv[2], "w"))
EOPY
t_dns_start "$T_TMP/zone.json"
mkdir -p "$T_TMP/keys" "$T_TMP/db"
cp "$data/s1.key" "$data/e1.key" "$T_TMP/keys/"
chmod 600 "$T_TMP/keys/"*.key
sed "s|@KEYDIR@|$T_TMP/keys|g" "$data/sign.conf" > "$T_TMP/sign.conf"
"$check" sign -c "$T_TMP/sign.conf" < "$data/signed.src" > "$T_TMP/signed.eml" ||
    t_fail "sign the test message"
# The daemon's user writes the store's directory.
[ -n "$AM_USER" ] && chown "$AM_USER" "$T_TMP/db"
db=$T_TMP/db/reports.db
reports="reports: { store = \"sqlite:$db\"; org_name = \"Test\"; from = \"dmarc@mx.test\"; };"

q() { sqlite3 -batch -noheader -separator ' ' "$db" "$1"; }
reply() { printf '%s\n' "$2" | grep "^reply $1:"; }

# 1. Recording on: 3 spoofs (p=reject: rejected), 2 aligned passes.
am_conf "$T_TMP/am.conf" "$reports"
t_eq "-n: the store opens as the daemon's user; unsigned reports warned of" \
    "$("$AM" -n -c "$T_TMP/am.conf" 2>&1; echo $?)" \
    "$T_TMP/am.conf:9: warning: reports.from dmarc@mx.test has no signing-table row: reports will not be signed, and fail DMARC at receivers (unless SPF aligns)
$T_TMP/am.conf: configuration OK
0"
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
for i in 1 2 3; do
	out=$(miltc_run --ip 192.0.2.66 --helo mail.attacker.test \
	    --mail-from x@attacker.test --rcpt bob@mx.test \
	    < "$data/spoof-reject.eml")
done
t_eq "spoof rejected" "$(reply eom "$out")" \
    "reply eom: reject 550 5.7.1 Email rejected per DMARC policy for bank.test"
for i in 1 2; do
	out=$(miltc_run --ip 192.0.2.99 --helo list.example \
	    --mail-from alice@bank.test --rcpt bob@mx.test --rcpt c@other.test \
	    < "$T_TMP/signed.eml")
done
t_eq "pass accepted" "$(reply eom "$out")" "reply eom: accept"
sed 's/@bank.test/@shop.test/' "$data/spoof-reject.eml" > "$T_TMP/shop.eml"
miltc_run --ip 192.0.2.66 --helo mail.attacker.test \
    --mail-from x@attacker.test --rcpt bob@mx.test < "$T_TMP/shop.eml" >/dev/null
am_stop
t_eq "daemon stopped cleanly" "$AM_RC" 0
t_eq "one period for bank.test" "$(q "SELECT domain, p, rua FROM periods WHERE domain = 'bank.test'")" \
    "bank.test 3 mailto:dmarc@bank.test"
t_eq "two distinct rows" "$(q "SELECT COUNT(*) FROM report_rows WHERE domain = 'bank.test'")" 2
t_eq "spoofs: 3 messages, disposition reject, nothing aligned" \
    "$(q "SELECT count, disposition, dkim_aligned, spf_aligned, header_from, envelope_from, envelope_to FROM report_rows WHERE source_ip = '192.0.2.66' AND domain = 'bank.test'")" \
    "3 3 0 0 bank.test attacker.test mx.test"
t_eq "passes: 2 messages, disposition pass, DKIM aligned" \
    "$(q "SELECT count, disposition, dkim_aligned, spf_aligned, envelope_to FROM report_rows WHERE source_ip = '192.0.2.99'")" \
    "2 1 1 0 mx.test"
# The A-R of the pass says dkim=pass for bank.test and spf=fail for the
# MAIL FROM domain: the row carries the same.
t_eq "A-R: dkim=pass header.d=bank.test" \
    "$(printf '%s\n' "$out" | grep -c 'dkim=pass [^;]*header.d=bank.test')" 1
t_eq "A-R: spf=fail smtp.mailfrom=bank.test" \
    "$(printf '%s\n' "$out" | grep -c 'spf=fail [^;]*smtp.mailfrom=bank.test')" 1
t_eq "row: both DKIM results with their selectors" \
    "$(q "SELECT dkim FROM report_rows WHERE source_ip = '192.0.2.99'")" \
    "bank.test s1 pass;bank.test e1 pass"
t_eq "row: the MAIL FROM SPF result" \
    "$(q "SELECT spf_domain, spf_result, has_spf FROM report_rows WHERE source_ip = '192.0.2.99'")" \
    "bank.test 2 1"
t_eq "log: the writer's totals" \
    "$(grep -c 'reports: writer stopped: 6 rows written, 0 dropped' "$T_TMP/am.log")" 1
rep=$top_builddir/milter/authmilter-report
today=$(date -u +%Y-%m-%d)
t_eq "authmilter-report list" "$("$rep" -c "$T_TMP/am.conf" list 2>&1)" \
    "$today bank.test messages=5 rows=2 p=reject rua=mailto:dmarc@bank.test state=unsent
$today shop.test messages=1 rows=1 p=quarantine rua=mailto:a@reports.example,mailto:b@auth.example!10m state=unsent"

# send --dry-run: today is not finished, so nothing yet; tomorrow, one
# report per policy domain, valid against the RFC's schema, counts equal
# to the messages sent, named and titled as RFC 9990 3.2 says.
mkdir -p "$T_TMP/out"
t_eq "send: the current day is not reported" \
    "$("$rep" -c "$T_TMP/am.conf" send --dry-run "$T_TMP/out" 2>&1)" \
    "0 reports, 0 periods skipped, 0 failed"
begin=$(($(date -u +%s) / 86400 * 86400))
end=$((begin + 86399))
"$rep" -c "$T_TMP/am.conf" send --dry-run "$T_TMP/out" \
    --now $((begin + 86400 + 600)) > "$T_TMP/send.out" 2> "$T_TMP/send.err"
t_eq "send --dry-run exit status" "$?" 0
id=$(q "SELECT report_id FROM periods WHERE domain = 'bank.test'")
t_eq "the report id is alphanumeric" "$(printf '%s' "$id" | tr -d 'A-Za-z0-9' | wc -c)" 0
f="mx.test!bank.test!$begin!$end!$id"
t_eq "send: one line per report" "$(grep "^$f.xml.gz" "$T_TMP/send.out")" \
    "$f.xml.gz 5 messages, 2 records -> dmarc@bank.test"
t_eq "send: the external destination without authorization left out" \
    "$(cat "$T_TMP/send.err")" \
    "shop.test: destination mailto:a@reports.example left out: external, and no _report._dmarc authorization"
sid=$(q "SELECT report_id FROM periods WHERE domain = 'shop.test'")
t_eq "send: the authorized one kept, !size dropped" \
    "$(grep -c "shop.test!$begin!$end!$sid.xml.gz 1 messages, 1 records -> b@auth.example\$" "$T_TMP/send.out")" 1
for g in "$T_TMP/out/"*.xml.gz; do
	gunzip -c "$g" > "${g%.gz}"
	if xmllint --noout --schema "$top_srcdir/t/data/rfc9990/dmarc-xml-0.2.xsd" "${g%.gz}" 2>"$T_TMP/xmllint.err"; then
		t_ok "schema-valid: ${g##*/}"
	else
		t_fail "schema-valid: ${g##*/}" "$(cat "$T_TMP/xmllint.err")"
	fi
done
x="$T_TMP/out/$f.xml"
xp() { xmllint --xpath "$1" "$x" 2>/dev/null; }
ns='*[local-name()="feedback"]'
t_eq "XML: the counts sum to the messages sent" \
    "$(xp "sum(//*[local-name()='count'])")" 5
t_eq "XML: report_id is the file name's" \
    "$(xp "string(//*[local-name()='report_id'])")" "$id"
t_eq "XML: the period is the UTC day" \
    "$(xp "concat(//*[local-name()='begin'], ' ', //*[local-name()='end'])")" "$begin $end"
t_eq "XML: the spoof row" \
    "$(xp "string(//*[local-name()='record'][.//*[local-name()='source_ip']='192.0.2.66']//*[local-name()='count'])")" 3
t_eq "XML: the pass row's DKIM results, selector included" \
    "$(xp "count(//*[local-name()='record'][.//*[local-name()='source_ip']='192.0.2.99']//*[local-name()='auth_results']/*[local-name()='dkim'][*[local-name()='selector']])")" 2
e="$T_TMP/out/$f.eml"
# The header section with folded lines joined.
hdr() { awk '/^$/ { exit } /^[ \t]/ { sub(/^[ \t]+/, " "); h = h $0; next }
    { if (h != "") print h; h = $0 } END { if (h != "") print h }' "$e"; }
t_eq "mail: Subject as RFC 9990 3.2" "$(hdr | grep '^Subject:')" \
    "Subject: Report Domain: bank.test Submitter: mx.test Report-ID: $id"
t_eq "mail: Auto-Submitted" "$(grep -c '^Auto-Submitted: auto-generated$' "$e")" 1
t_eq "mail: To and From" "$(grep -E '^(From|To):' "$e")" "From: dmarc@mx.test
To: dmarc@bank.test"
t_eq "mail: the gzip part, named as the file" \
    "$(tr -d '\n\t ' < "$e" | grep -c "Content-Type:application/gzip;name=\"$f.xml.gz\"")" 1
t_eq "send --dry-run marks nothing sent" \
    "$(q 'SELECT COUNT(*) FROM periods WHERE sent_at IS NOT NULL')" 0
"$rep" -c "$T_TMP/am.conf" send --dry-run "$T_TMP/out2" --now $((begin + 86400 + 600)) >/dev/null 2>&1
t_eq "send into a missing directory fails" "$?" 1
t_eq "send without --dry-run is refused (not built)" \
    "$("$rep" -c "$T_TMP/am.conf" send >/dev/null 2>&1; echo $?)" 2
t_eq "authmilter-report expire keeps today" \
    "$("$rep" -c "$T_TMP/am.conf" expire --days 0 2>&1)" "expired 0 periods"
t_eq "authmilter-report expire --days 1, two days later" \
    "$("$rep" -c "$T_TMP/am.conf" expire --days 1 --now $(($(date +%s) + 2 * 86400)) 2>&1)" \
    "expired 2 periods"
t_eq "  ... the rows are gone too" "$(q 'SELECT COUNT(*) FROM report_rows')" 0
t_eq "authmilter-report usage error" \
    "$("$rep" -c "$T_TMP/am.conf" expire >/dev/null 2>&1; echo $?)" 2

# 2. Reasons: t=y (p=reject applied as quarantine, policy_test_mode = 1),
# and dmarc.enforce = false (nothing applied, local_policy = 2).
rm -f "$db"
sed 's/@bank.test/@news.test/' "$data/spoof-reject.eml" > "$T_TMP/news.eml"
am_conf "$T_TMP/am.conf" "$reports"
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
miltc_run --ip 192.0.2.66 --helo mail.attacker.test \
    --mail-from x@attacker.test < "$T_TMP/news.eml" >/dev/null
am_stop
t_eq "t=y: quarantine (p=reject one level below), policy_test_mode" \
    "$(q "SELECT domain, disposition, reasons, count FROM report_rows")" \
    "news.test 2 1 1"
t_eq "t=y: published testing=y" "$(q 'SELECT testing FROM periods')" 1
rm -f "$db"
am_conf "$T_TMP/am.conf" "$reports
dmarc: { enforce = false; };"
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
out=$(miltc_run --ip 192.0.2.66 --helo mail.attacker.test \
    --mail-from x@attacker.test < "$data/spoof-reject.eml")
am_stop
t_eq "enforce = false: the spoof accepted" "$(reply eom "$out")" "reply eom: accept"
t_eq "enforce = false: disposition none, local_policy" \
    "$(q "SELECT disposition, reasons FROM report_rows")" "0 2"

# 3. No reports group: nothing recorded.
rm -f "$db"
am_conf "$T_TMP/am.conf"
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
out=$(miltc_run --ip 192.0.2.66 --helo mail.attacker.test \
    --mail-from x@attacker.test < "$data/spoof-reject.eml")
am_stop
t_eq "without the group no store is made" "$(test -e "$db" && echo made)" ""

# 4. A store that cannot be written: mail goes on, drops are counted.
: > "$T_TMP/am.log"
am_conf "$T_TMP/am.conf" "reports: { store = \"sqlite:$T_TMP/nowhere/r.db\"; org_name = \"Test\"; from = \"dmarc@mx.test\"; };"
out=$("$AM" -n -c "$T_TMP/am.conf" 2>&1)
t_eq "-n: a SQLite store that cannot be opened is an error" \
    "$? $(printf '%s\n' "$out" | grep -c "reports.store.*cannot open $T_TMP/nowhere/r.db")" "2 1"
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
out=$(miltc_run --ip 192.0.2.99 --helo list.example \
    --mail-from alice@bank.test < "$T_TMP/signed.eml")
t_eq "mail accepted with the store down" "$(reply eom "$out")" "reply eom: accept"
am_stop
t_eq "the failure is logged" \
    "$(grep -c 'reports: .*nowhere' "$T_TMP/am.log" | sed 's/^[1-9][0-9]*$/yes/')" yes
t_eq "the row is counted as dropped" \
    "$(grep -c 'reports: writer stopped: 0 rows written, 1 dropped' "$T_TMP/am.log")" 1
t_done
