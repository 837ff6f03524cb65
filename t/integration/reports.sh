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
t_dns_start "$data/zone.json"
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
t_eq "-n: the store opens as the daemon's user" \
    "$("$AM" -n -c "$T_TMP/am.conf" 2>&1; echo $?)" \
    "$T_TMP/am.conf: configuration OK
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
am_stop
t_eq "daemon stopped cleanly" "$AM_RC" 0
t_eq "one period for bank.test" "$(q 'SELECT domain, p, rua FROM periods')" \
    "bank.test 3 mailto:dmarc@bank.test"
t_eq "two distinct rows" "$(q 'SELECT COUNT(*) FROM report_rows')" 2
t_eq "spoofs: 3 messages, disposition reject, nothing aligned" \
    "$(q "SELECT count, disposition, dkim_aligned, spf_aligned, header_from, envelope_from, envelope_to FROM report_rows WHERE source_ip = '192.0.2.66'")" \
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
    "$(grep -c 'reports: writer stopped: 5 rows written, 0 dropped' "$T_TMP/am.log")" 1
rep=$top_builddir/milter/authmilter-report
t_eq "authmilter-report list" "$("$rep" -c "$T_TMP/am.conf" list 2>&1)" \
    "$(date -u +%Y-%m-%d) bank.test messages=5 rows=2 p=reject rua=mailto:dmarc@bank.test state=unsent"
t_eq "authmilter-report expire keeps today" \
    "$("$rep" -c "$T_TMP/am.conf" expire --days 0 2>&1)" "expired 0 periods"
t_eq "authmilter-report expire --days 1, two days later" \
    "$("$rep" -c "$T_TMP/am.conf" expire --days 1 --now $(($(date +%s) + 2 * 86400)) 2>&1)" \
    "expired 1 periods"
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
