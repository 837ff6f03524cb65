#!/bin/sh
# authmilter-report ingest: the reports other receivers send us. The
# corpus (t/tools/report-corpus.py: RFC 9990 and 7489, gzip, zip, plain,
# several orgs, overlapping periods, a duplicate, a malformed report,
# gzip and zip bombs, garbage, a mail without a report, NUL bytes) goes in
# one mail at a time on standard input, as a pipe alias gives it, then as
# a maildir and as an mbox: exact counts per org, report and record in
# the store, exit status 0 for every mail, the quarantine's files and
# reasons, the log lines. Failures of our own (configuration, store,
# quarantine) exit 75. Then a round trip: authmilter-report send hands
# our reports to a stand-in sendmail, and ingest of those mails gives the
# records and counts the store sent.
. "$top_srcdir/t/lib/common.sh"
. "$top_srcdir/t/integration/lib.sh"

rep=$top_builddir/milter/authmilter-report
corpus=$T_TMP/corpus
now=1767500000
mkdir -p "$corpus" "$T_TMP/q" "$T_TMP/db"
$PY "$top_srcdir/t/tools/report-corpus.py" corpus "$corpus"

conf() { # FILE STORE QUARANTINE
	cat > "$1" <<EOC
reports: { store = "$2"; org_name = "Test"; from = "dmarc@mx.test"; quarantine = "$3"; };
EOC
}
conf "$T_TMP/in.conf" "sqlite:$T_TMP/db/in.db" "$T_TMP/q"
q() { sqlite3 -batch -noheader -separator ' ' "$1" "$2"; }
ingest() { # CONF [PATH]: stdout, stderr and exit status in $T_TMP/ig.*
	"$rep" -c "$@" > "$T_TMP/ig.out" 2> "$T_TMP/ig.err"
	echo $? > "$T_TMP/ig.rc"
}

# 1. One mail at a time on standard input.
for f in "$corpus"/*.eml; do
	n=$(basename "$f" .eml)
	ingest "$T_TMP/in.conf" ingest --now "$now" < "$f"
	t_eq "stdin $n: exit status 0" "$(cat "$T_TMP/ig.rc")" 0
	cp "$T_TMP/ig.err" "$T_TMP/log.$n"
done
line() { cat "$T_TMP/log.$1"; }
t_eq "log: a new report" "$(line 01-a1-9990-gz)" \
    'authmilter-report: stdin: stored report org="Receiver A" report_id="a-1" domain=example.com begin=1767225600 end=1767311999 records=3 messages=8 form=gzip'
t_eq "log: RFC 7489 in a zip" "$(line 02-b1-7489-zip)" \
    'authmilter-report: stdin: stored report org="Receiver B" report_id="b-1" domain=example.com begin=1767225600 end=1767311999 records=2 messages=10 form=zip'
t_eq "log: plain XML, quoted-printable" "$(line 03-c1-9990-xml)" \
    'authmilter-report: stdin: stored report org="Receiver C" report_id="c-1" domain=example.net begin=1767225600 end=1767311999 records=1 messages=4 form=xml'
t_eq "log: the duplicate" "$(line 07-a1-duplicate)" \
    'authmilter-report: stdin: duplicate report org="Receiver A" report_id="a-1" domain=example.com: already stored'
t_eq "log: garbage is no report" "$(line 11-garbage)" \
    'authmilter-report: stdin: not a report: no report attachment (gzip, zip or xml)'
t_eq "log: a plain mail is no report" "$(line 12-not-a-report)" \
    'authmilter-report: stdin: not a report: no report attachment (gzip, zip or xml)'
for n in 08-malformed 09-gzip-bomb 10-zip-bomb 13-nul-in-xml; do
	t_eq "log: $n quarantined" \
	    "$(sed -E 's|kept as .*/[0-9.]+\.eml$|kept as Q|' "$T_TMP/log.$n" | grep -c '^authmilter-report: stdin: malformed report (.*): kept as Q$')" 1
done
t_eq "log: a NUL in a header, then a report" "$(line 14-nul-in-header | sed 's/ begin=.*//')" \
    'authmilter-report: stdin: stored report org="Receiver F" report_id="f-1" domain=example.com'

db=$T_TMP/db/in.db
t_eq "store: reports per org" \
    "$(q "$db" "SELECT org, report_id, domain, period_begin, period_end, received FROM rx_reports ORDER BY org, report_id")" \
    "Receiver A a-1 example.com 1767225600 1767311999 $now
Receiver A a-2 example.com 1767268800 1767355199 $now
Receiver B b-1 example.com 1767225600 1767311999 $now
Receiver C c-1 example.net 1767225600 1767311999 $now
Receiver D d-1 example.com 1767312000 1767398399 $now
Receiver E e-1 example.org 1767225600 1767311999 $now
Receiver F f-1 example.com 1767225600 1767311999 $now"
counts="Receiver A a-1 3 8
Receiver A a-2 2 30
Receiver B b-1 2 10
Receiver C c-1 1 4
Receiver D d-1 1 9
Receiver E e-1 1 6
Receiver F f-1 1 1"
t_eq "store: records and messages per report" \
    "$(q "$db" "SELECT org, report_id, COUNT(*), SUM(count) FROM rx_rows GROUP BY org, report_id ORDER BY org, report_id")" \
    "$counts"
t_eq "store: a-1's records, in order" \
    "$(q "$db" "SELECT seq, source_ip, count, disposition, dkim_aligned, spf_aligned, dkim, spf_domain, spf_result FROM rx_rows WHERE report_id = 'a-1' ORDER BY seq")" \
    "0 192.0.2.1 5 0 1 1 example.com s1 pass example.com 1
1 192.0.2.2 1 3 0 0 example.com s1 pass example.com 1
2 2001:db8::3 2 2 0 1 example.com s1 pass example.com 1"
t_eq "store: RFC 7489 keeps the mfrom SPF result, else the first" \
    "$(q "$db" "SELECT spf_domain, spf_result FROM rx_rows WHERE report_id = 'b-1' ORDER BY seq")" \
    "bounce.b.example 3
helo.b.example 0"
t_eq "store: the policy (7489: p, sp; 9990: np too)" \
    "$(q "$db" "SELECT report_id, p, sp, np FROM rx_reports WHERE report_id IN ('a-1', 'b-1') ORDER BY report_id")" \
    "a-1 3 1 3
b-1 3 1 0"
t_eq "store: nothing of the refused reports" \
    "$(q "$db" "SELECT COUNT(*) FROM rx_reports WHERE org IN ('Receiver X', 'Receiver N') OR org LIKE 'Recei%ver N'")" 0

t_eq "quarantine: four mails and their reasons" "$(ls "$T_TMP/q" | wc -l)" 8
reasons=$(cat "$T_TMP/q"/*.reason | sort)
t_eq "quarantine: the reasons" "$reasons" \
    "gzip: more than 67108864 bytes decompressed
no report_id
xml: line 3: Char 0x0 out of allowed range
zip: more than 67108864 bytes decompressed"
t_eq "quarantine: each mail is kept byte for byte" \
    "$(for r in "$T_TMP/q"/*.reason; do
	m=${r%.reason}.eml
	for f in "$corpus"/*.eml; do cmp -s "$f" "$m" && basename "$f"; done
    done | sort)" \
    "08-malformed.eml
09-gzip-bomb.eml
10-zip-bomb.eml
13-nul-in-xml.eml"
t_eq "quarantine: files mode 0640" \
    "$(stat -c %a "$T_TMP/q"/* | sort -u)" 640

# 2. The same corpus as a maildir, into a new store: the same counts, and
# the summary line.
mkdir -p "$T_TMP/md/new" "$T_TMP/md/cur" "$T_TMP/q2"
cp "$corpus"/*.eml "$T_TMP/md/new/"
conf "$T_TMP/md.conf" "sqlite:$T_TMP/db/md.db" "$T_TMP/q2"
ingest "$T_TMP/md.conf" ingest --now "$now" "$T_TMP/md"
t_eq "maildir: exit status 0" "$(cat "$T_TMP/ig.rc")" 0
t_eq "maildir: the summary" "$(tail -n 1 "$T_TMP/ig.err")" \
    "authmilter-report: ingest: 14 mails: 7 stored, 1 duplicates, 2 without a report, 4 quarantined"
t_eq "maildir: the same records and messages" \
    "$(q "$T_TMP/db/md.db" "SELECT org, report_id, COUNT(*), SUM(count) FROM rx_rows GROUP BY org, report_id ORDER BY org, report_id")" \
    "$counts"
ingest "$T_TMP/md.conf" ingest --now "$now" "$T_TMP/md"
t_eq "maildir again: everything a duplicate or refused again" "$(tail -n 1 "$T_TMP/ig.err")" \
    "authmilter-report: ingest: 14 mails: 0 stored, 8 duplicates, 2 without a report, 4 quarantined"

# 3. An mbox (mboxrd: a body line "From " is written ">From ").
$PY - "$corpus" "$T_TMP/in.mbox" <<'EOPY'
import glob, sys
out = open(sys.argv[2], "wb")
for f in sorted(glob.glob(sys.argv[1] + "/0[1-7]*.eml")):
    data = open(f, "rb").read().replace(b"\r\n", b"\n")
    lines = [b">" + l if l.lstrip(b">").startswith(b"From ") else l
             for l in data.split(b"\n")]
    out.write(b"From reports@reporter.example Sat Jan  3 07:00:00 2026\n")
    out.write(b"\n".join(lines).rstrip(b"\n") + b"\n\n")
EOPY
conf "$T_TMP/mb.conf" "sqlite:$T_TMP/db/mb.db" "$T_TMP/q3"
ingest "$T_TMP/mb.conf" ingest --now "$now" "$T_TMP/in.mbox"
t_eq "mbox: exit status 0" "$(cat "$T_TMP/ig.rc")" 0
t_eq "mbox: the summary" "$(tail -n 1 "$T_TMP/ig.err")" \
    "authmilter-report: ingest: 7 mails: 6 stored, 1 duplicates, 0 without a report, 0 quarantined"
t_eq "mbox: the records and messages" \
    "$(q "$T_TMP/db/mb.db" "SELECT org, report_id, COUNT(*), SUM(count) FROM rx_rows GROUP BY org, report_id ORDER BY org, report_id")" \
    "$(echo "$counts" | grep -v 'Receiver F')"

# 4. Our own failures: exit 75, so that the MTA keeps the mail.
conf "$T_TMP/down.conf" "sqlite:$T_TMP/nonexistent/dir/in.db" "$T_TMP/q"
ingest "$T_TMP/down.conf" ingest < "$corpus/01-a1-9990-gz.eml"
t_eq "store down: exit status 75" "$(cat "$T_TMP/ig.rc")" 75
t_eq "store down: said" "$(grep -c 'cannot open' "$T_TMP/ig.err")" 1
ingest "$T_TMP/nonexistent.conf" ingest < "$corpus/01-a1-9990-gz.eml"
t_eq "no configuration: exit status 75" "$(cat "$T_TMP/ig.rc")" 75
touch "$T_TMP/notadir"
conf "$T_TMP/qbad.conf" "sqlite:$T_TMP/db/in.db" "$T_TMP/notadir/q"
ingest "$T_TMP/qbad.conf" ingest < "$corpus/08-malformed.eml"
t_eq "quarantine unwritable: exit status 75" "$(cat "$T_TMP/ig.rc")" 75
t_eq "quarantine unwritable: said" \
    "$(grep -c "reports.quarantine: $T_TMP/notadir/q/.*: Not a directory" "$T_TMP/ig.err")" 1
ingest "$T_TMP/qbad.conf" ingest < "$corpus/12-not-a-report.eml"
t_eq "quarantine unwritable, but no report: exit status 0" "$(cat "$T_TMP/ig.rc")" 0
ingest "$T_TMP/in.conf" ingest "$T_TMP/nothing-here"
t_eq "a PATH that does not exist: exit status 1" "$(cat "$T_TMP/ig.rc")" 1

# 5. Round trip: what authmilter-report send hands to sendmail, ingested,
# gives the records and counts of the store it came from.
data=$top_srcdir/t/data/msgauth
$PY - "$data/zone.json" "$T_TMP/zone.json" <<'EOPY'
import json, sys
zone = json.load(open(sys.argv[1]))
zone["s1._domainkey.mx.test"] = zone["s1._domainkey.bank.test"]
zone["_dmarc.mx.test"] = [{"type": "TXT", "data": "v=DMARC1; p=reject"}]
json.dump(zone, open(sys.argv[2], "w"))
EOPY
t_dns_start "$T_TMP/zone.json"
mkdir -p "$T_TMP/keys" "$T_TMP/rt" "$T_TMP/mail"
cp "$data/s1.key" "$T_TMP/keys/"
chmod 600 "$T_TMP/keys/s1.key"
[ -n "$AM_USER" ] && chown "$AM_USER" "$T_TMP/keys/s1.key" "$T_TMP/rt"
rt=$T_TMP/rt/reports.db
FAKE_SENDMAIL_DIR=$T_TMP/mail
export FAKE_SENDMAIL_DIR
am_conf "$T_TMP/am.conf" "reports: { store = \"sqlite:$rt\"; org_name = \"Test\"; from = \"dmarc@mx.test\"; sendmail = \"$top_srcdir/t/tools/fake-sendmail\"; max_per_minute = 6000; quarantine = \"$T_TMP/q4\"; };
dkim: { sign: {
	keys = ({ name = \"r\"; domain = \"mx.test\"; selector = \"s1\"; algorithm = \"rsa-sha256\"; file = \"$T_TMP/keys/s1.key\"; });
	table = ({ from = \"*@mx.test\"; keys = [\"r\"]; });
}; };"
am_start "$T_TMP/am.conf" || { t_fail "daemon starts"; t_done; exit 1; }
for i in 1 2 3; do
	miltc_run --ip 192.0.2.66 --helo mail.attacker.test \
	    --mail-from x@attacker.test --rcpt bob@mx.test \
	    < "$data/spoof-reject.eml" >/dev/null
done
miltc_run --ip 192.0.2.67 --helo mail.other.test \
    --mail-from y@other.test --rcpt bob@mx.test < "$data/spoof-reject.eml" >/dev/null
am_stop
t_eq "round trip: recorded" \
    "$(q "$rt" 'SELECT domain, source_ip, count FROM report_rows ORDER BY source_ip')" \
    "bank.test 192.0.2.66 3
bank.test 192.0.2.67 1"
begin=$(( $(date -u +%s) / 86400 * 86400 ))
"$rep" -c "$T_TMP/am.conf" send --now $((begin + 86400 + 600)) > "$T_TMP/send.out" 2>&1
t_eq "round trip: sent" "$(tail -n 1 "$T_TMP/send.out")" "1 reports, 0 periods skipped, 0 failed"
ingest "$T_TMP/am.conf" ingest < "$T_TMP/mail/1.eml"
t_eq "round trip: ingest exit status 0" "$(cat "$T_TMP/ig.rc")" 0
t_eq "round trip: the report, under the id the store gave it" \
    "$(q "$rt" 'SELECT org, report_id, domain, period_begin, period_end FROM rx_reports')" \
    "Test $(q "$rt" 'SELECT report_id FROM periods') bank.test $begin $((begin + 86399))"
rows='SELECT source_ip, header_from, envelope_from, disposition, dkim_aligned, spf_aligned, reasons, dkim, spf_domain, spf_result, has_spf, count FROM'
t_eq "round trip: the same records and counts" \
    "$(q "$rt" "$rows rx_rows ORDER BY source_ip")" \
    "$(q "$rt" "$rows report_rows ORDER BY source_ip")"

# 6. What was ingested about example.com, through summary and html: the
# totals are the stored counts (a-1 8, b-1 10, a-2 30, d-1 9, f-1 1).
cp "$T_TMP/in.conf" "$T_TMP/sum.conf"
echo "dns: { unbound_conf = \"$DNS_CONF\"; timeout = 2.0; };" >> "$T_TMP/sum.conf"
"$rep" -c "$T_TMP/sum.conf" summary example.com --json --now "$now" > "$T_TMP/sum.json"
t_eq "summary --json: exit status" "$?" 0
t_eq "summary: the total is the stored messages" \
    "$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["total"])' "$T_TMP/sum.json"):$(q "$T_TMP/db/in.db" \
    "SELECT SUM(r.count) FROM rx_rows r JOIN rx_reports p USING (org, report_id) WHERE p.domain = 'example.com'")" \
    "58:58"
"$rep" -c "$T_TMP/sum.conf" html example.com --now "$now" > "$T_TMP/sum.html"
t_eq "html: exit status" "$?" 0
t_eq "html: one page with its chart" "$(grep -c '<svg' "$T_TMP/sum.html")" 1
t_done
