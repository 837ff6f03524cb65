#!/bin/sh
# Aggregate-report periods against the clock, with stores filled by
# t/tools/storefill and reports made by `authmilter-report send --dry-run`:
#   1. UTC day boundaries: the last second of a day and the first of the
#      next are two periods; each report covers exactly 00:00:00 to
#      23:59:59 UTC of its day; the current UTC day (of --now) is never
#      sent; periods never overlap.
#   2. DST: the same store sent under TZ=UTC, America/New_York and
#      Europe/Berlin, rows around the 2026 US and EU changes, gives the
#      same files, byte for byte (the .xml.gz, the XML, the .eml).
#   3. 10,000 sources in one period: one schema-valid report with 10,000
#      records whose counts sum to the messages added; with
#      reports.max_rows = 5000, 5,000 records and an <error> that says
#      how many were left out.
#   4. rua with WSP around its commas (RFC 9989 4.8), through the daemon:
#      the row keeps both URIs and the report goes to both.
# Parts 1 to 3 need no DNS (every rua is at its policy domain); the DNS
# server runs for part 4 and its log shows that 1 to 3 asked nothing.
. "$top_srcdir/t/lib/common.sh"
. "$top_srcdir/t/integration/lib.sh"

FILL=$top_builddir/t/tools/storefill
REP=$top_builddir/milter/authmilter-report
XSD=$top_srcdir/t/data/rfc9990/dmarc-xml-0.2.xsd
data=$top_srcdir/t/data/msgauth

$PY - "$data/zone.json" "$T_TMP/zone.json" <<'EOPY'
import json, sys
zone = json.load(open(sys.argv[1]))
zone["_dmarc.ws.test"] = [{"type": "TXT", "data":
    "v=DMARC1; p=reject; rua=mailto:a@ws.test , \tmailto:b@ws.test"}]
json.dump(zone, open(sys.argv[2], "w"))
EOPY
t_dns_start "$T_TMP/zone.json"
mkdir -p "$T_TMP/db" "$T_TMP/keys"
cp "$data/s1.key" "$T_TMP/keys/"
chmod 600 "$T_TMP/keys/s1.key"
[ -n "$AM_USER" ] && chown "$AM_USER" "$T_TMP/db" "$T_TMP/keys/s1.key"

# conf NAME [EXTRA]: $T_TMP/NAME.conf, its store $T_TMP/db/NAME.db; the
# reports are signed (send signs every mail, --dry-run too).
conf() {
	am_conf "$T_TMP/$1.conf" "reports: { store = \"sqlite:$T_TMP/db/$1.db\";
    org_name = \"Test\"; from = \"dmarc@mx.test\"; $2 };
dkim: { sign: {
	keys = ({ name = \"r\"; domain = \"mx.test\"; selector = \"s1\"; algorithm = \"rsa-sha256\"; file = \"$T_TMP/keys/s1.key\"; });
	table = ({ from = \"*@mx.test\"; keys = [\"r\"]; });
}; };"
}
# send NAME DIR NOW: send --dry-run into a fresh DIR; stdout to DIR.out,
# stderr to DIR.err, the exit status to $rc.
send() {
	rm -rf "$2"
	mkdir -p "$2"
	"$REP" -c "$T_TMP/$1.conf" send --dry-run "$2" --now "$3" \
	    > "$2.out" 2> "$2.err"
	rc=$?
}
# unzip DIR: gunzip -c every DIR/*.xml.gz into DIR/*.xml.
unzip() {
	for g in "$1"/*.xml.gz; do
		[ -e "$g" ] && gunzip -c "$g" > "${g%.gz}"
	done
}
# xp FILE XPATH
xp() { xmllint --xpath "$2" "$1" 2>/dev/null; }
E() { printf "//*[local-name()='%s']" "$1"; }
# range FILE: "BEGIN END" of the report's date_range.
range() { xp "$1" "concat($(E begin), ' ', $(E end))"; }
# valid NAME FILE: a case for the schema check.
valid() {
	if xmllint --noout --schema "$XSD" "$2" 2> "$T_TMP/xmllint.err"; then
		t_ok "$1"
	else
		t_fail "$1" "$(head -n 5 "$T_TMP/xmllint.err")"
	fi
}
# nooverlap DIR: "ok" when the reports in DIR, sorted by begin, each cover
# one whole UTC day (begin at 00:00:00, end 86399 s later) and each ends
# before the next begins; the offending ranges otherwise.
nooverlap() {
	for x in "$1"/*.xml; do
		printf '%s\n' "$(range "$x")"
	done | sort -n | awk '
	    { if ($1 % 86400 != 0 || $2 != $1 + 86399) bad = bad " " $1 "-" $2
	      if (NR > 1 && $1 <= end) bad = bad " overlap:" end ">=" $1
	      end = $2 }
	    END { print (bad == "" ? "ok" : bad) }'
}
day() { date -u -d "$1" +%s; }

# --- 1. UTC day boundaries ---
A=$(day "2026-06-14 00:00:00")
B=$((A + 86400))
C=$((B + 86400))
t_eq "2026-06-14T00:00:00Z" "$A" 1781395200
conf days
t_eq "storefill: the last second of 2026-06-14" \
    "$("$FILL" "sqlite:$T_TMP/db/days.db" --domain days.test \
	--when $((A + 86399)) --sources 2 --count 5)" \
    "storefill: 2 rows, 10 messages, 1 batches"
t_eq "storefill: the first second of 2026-06-15" \
    "$("$FILL" "sqlite:$T_TMP/db/days.db" --domain days.test \
	--when "$B" --sources 3 --first-source 100 --count 7)" \
    "storefill: 3 rows, 21 messages, 1 batches"
t_eq "list: two periods, one per UTC day" \
    "$("$REP" -c "$T_TMP/days.conf" list 2>&1)" \
    "2026-06-14 days.test messages=10 rows=2 p=reject rua=mailto:dmarc@days.test state=unsent
2026-06-15 days.test messages=21 rows=3 p=reject rua=mailto:dmarc@days.test state=unsent"
q() { sqlite3 -batch -noheader "$T_TMP/db/days.db" "$1"; }

# --now in day B: only A is finished.
send days "$T_TMP/a1" $((B + 3600))
t_eq "send during 2026-06-15: exit 0" "$rc" 0
idA=$(q "SELECT report_id FROM periods WHERE day = $A")
fA="mx.test!days.test!$A!$((A + 86399))!$idA"
t_eq "send during 2026-06-15: 2026-06-14 only" "$(cat "$T_TMP/a1.out")" \
    "$fA.xml.gz 10 messages, 2 records -> dmarc@days.test
1 reports, 0 periods skipped, 0 failed"
t_eq "  ... no id made for the current day" \
    "$(q "SELECT COALESCE(report_id, 'none') FROM periods WHERE day = $B")" none
t_eq "  ... the files" "$(ls "$T_TMP/a1")" "$fA.eml
$fA.xml.gz"
unzip "$T_TMP/a1"
t_eq "  ... date_range: 00:00:00 to 23:59:59 UTC of 2026-06-14" \
    "$(range "$T_TMP/a1/$fA.xml")" "1781395200 1781481599"
t_eq "  ... the rows of 23:59:59 are in it" \
    "$(xp "$T_TMP/a1/$fA.xml" "concat(count($(E record)), ' ', sum($(E count)))") $(xp "$T_TMP/a1/$fA.xml" "$(E source_ip)/text()" | sort | tr '\n' ' ')" \
    "2 10 198.18.0.0 198.18.0.1 "
# The last second of day B: B is still the current day.
send days "$T_TMP/a2" $((C - 1))
t_eq "send at 23:59:59 of 2026-06-15: still 2026-06-14 only" \
    "$(cat "$T_TMP/a2.out")" "$fA.xml.gz 10 messages, 2 records -> dmarc@days.test
1 reports, 0 periods skipped, 0 failed"
t_eq "  ... the same bytes as before (the id is kept)" \
    "$(cmp "$T_TMP/a1/$fA.xml.gz" "$T_TMP/a2/$fA.xml.gz" && echo same)" same
# 00:00:00 of day C: B is finished.
send days "$T_TMP/a3" "$C"
idB=$(q "SELECT report_id FROM periods WHERE day = $B")
fB="mx.test!days.test!$B!$((B + 86399))!$idB"
t_eq "send at 00:00:00 of 2026-06-16: both days" "$(cat "$T_TMP/a3.out")" \
    "$fA.xml.gz 10 messages, 2 records -> dmarc@days.test
$fB.xml.gz 21 messages, 3 records -> dmarc@days.test
2 reports, 0 periods skipped, 0 failed"
t_eq "  ... two ids" "$([ -n "$idB" ] && [ "$idA" != "$idB" ] && echo differ)" differ
unzip "$T_TMP/a3"
t_eq "  ... date_range of 2026-06-15" "$(range "$T_TMP/a3/$fB.xml")" \
    "1781481600 1781567999"
t_eq "  ... the row of 00:00:00 is in it, none of the day before" \
    "$(xp "$T_TMP/a3/$fB.xml" "concat(count($(E record)), ' ', sum($(E count)), ' ', count($(E source_ip)[starts-with(., '198.18.0.10')]))")" \
    "3 21 3"
t_eq "  ... the periods do not overlap" "$(nooverlap "$T_TMP/a3")" ok
for x in "$T_TMP/a3"/*.xml; do
	valid "  ... schema-valid: ${x##*/}" "$x"
done
t_eq "  ... nothing marked sent" \
    "$(q 'SELECT COUNT(*) FROM periods WHERE sent_at IS NOT NULL')" 0

# --- 2. DST: TZ changes nothing ---
# The zones must be real: without tzdata glibc takes an unknown TZ for
# UTC, and the comparison below would prove nothing.
t_eq "tzdata: America/New_York" \
    "$(TZ=America/New_York date -d @1772945999 '+%F %T %Z')" \
    "2026-03-07 23:59:59 EST"
t_eq "tzdata: Europe/Berlin" \
    "$(TZ=Europe/Berlin date -d @1774746000 '+%F %T %Z')" \
    "2026-03-29 03:00:00 CEST"
conf dst
fill() {
	"$FILL" "sqlite:$T_TMP/db/dst.db" --domain dst.test --when "$1" \
	    --first-source "$2" --count "$3" > /dev/null || t_fail "storefill $1"
}
fill 1772945999 1 1 # 2026-03-08 04:59:59Z, 23:59:59 EST on the 7th
fill 1772953199 2 2 # 06:59:59Z, 01:59:59 EST
fill 1772953200 3 4 # 07:00:00Z, 03:00:00 EDT
fill 1774740600 4 8 # 2026-03-28 23:30:00Z, 00:30 CET on the 29th
fill 1774745999 5 16 # 2026-03-29 00:59:59Z, 01:59:59 CET
fill 1774746000 6 32 # 01:00:00Z, 03:00:00 CEST
# 2026-03-30 00:30:00Z is 20:30 EDT on the 29th: a local day would hold
# the 29th back in New York.
now=1774830600
for tz in UTC America/New_York Europe/Berlin; do
	d=$T_TMP/dst-$(echo "$tz" | tr / -)
	rm -rf "$d"
	mkdir -p "$d"
	TZ=$tz "$REP" -c "$T_TMP/dst.conf" send --dry-run "$d" --now $now \
	    > "$d.out" 2> "$d.err"
	t_eq "TZ=$tz: send exit 0, no warnings" "$? $(cat "$d.err")" "0 "
	TZ=$tz "$REP" -c "$T_TMP/dst.conf" list > "$d.list" 2>&1
	unzip "$d"
done
u=$T_TMP/dst-UTC
ids=$(sqlite3 -batch -noheader "$T_TMP/db/dst.db" \
    "SELECT day || ' ' || report_id FROM periods ORDER BY day")
f8="mx.test!dst.test!1772928000!1773014399!$(echo "$ids" | awk '$1 == 1772928000 { print $2 }')"
f28="mx.test!dst.test!1774656000!1774742399!$(echo "$ids" | awk '$1 == 1774656000 { print $2 }')"
f29="mx.test!dst.test!1774742400!1774828799!$(echo "$ids" | awk '$1 == 1774742400 { print $2 }')"
t_eq "TZ=UTC: the three UTC days" "$(cat "$u.out")" \
    "$f8.xml.gz 7 messages, 3 records -> dmarc@dst.test
$f28.xml.gz 8 messages, 1 records -> dmarc@dst.test
$f29.xml.gz 48 messages, 2 records -> dmarc@dst.test
3 reports, 0 periods skipped, 0 failed"
t_eq "TZ=UTC: list" "$(cat "$u.list")" \
    "2026-03-08 dst.test messages=7 rows=3 p=reject rua=mailto:dmarc@dst.test state=unsent
2026-03-28 dst.test messages=8 rows=1 p=reject rua=mailto:dmarc@dst.test state=unsent
2026-03-29 dst.test messages=48 rows=2 p=reject rua=mailto:dmarc@dst.test state=unsent"
t_eq "TZ=UTC: the date ranges" \
    "$(range "$u/$f8.xml"); $(range "$u/$f28.xml"); $(range "$u/$f29.xml")" \
    "1772928000 1773014399; 1774656000 1774742399; 1774742400 1774828799"
t_eq "TZ=UTC: the periods do not overlap" "$(nooverlap "$u")" ok
t_eq "TZ=UTC: Date is --now in UTC" "$(grep '^Date:' "$u/$f29.eml")" \
    "Date: Mon, 30 Mar 2026 00:30:00 +0000"
for tz in America/New_York Europe/Berlin; do
	d=$T_TMP/dst-$(echo "$tz" | tr / -)
	t_eq "TZ=$tz: the same file names" "$(ls "$d")" "$(ls "$u")"
	t_eq "TZ=$tz: the same output" "$(cat "$d.out")" "$(cat "$u.out")"
	t_eq "TZ=$tz: the same list" "$(cat "$d.list")" "$(cat "$u.list")"
	diffs=
	for f in "$u"/*; do
		cmp -s "$f" "$d/${f##*/}" || diffs="$diffs ${f##*/}"
	done
	t_eq "TZ=$tz: every file byte-identical (.xml.gz, .xml, .eml)" \
	    "$diffs" ""
done
t_eq "nine files per run (3 x .xml.gz, .xml, .eml)" "$(ls "$u" | wc -l)" 9

# --- 3. 10,000 sources in one period ---
D=$(day "2026-07-01 00:00:00")
conf big
conf big5k "max_rows = 5000;"
t_eq "storefill: 10,000 sources x 3" \
    "$("$FILL" "sqlite:$T_TMP/db/big.db" --domain big.test \
	--when $((D + 43200)) --sources 10000 --count 3)" \
    "storefill: 10000 rows, 30000 messages, 10 batches"
send big "$T_TMP/big" $((D + 86400))
id=$(sqlite3 -batch -noheader "$T_TMP/db/big.db" "SELECT report_id FROM periods")
f="mx.test!big.test!$D!$((D + 86399))!$id"
t_eq "send: one report of 10,000 records" "$rc $(cat "$T_TMP/big.out")" \
    "0 $f.xml.gz 30000 messages, 10000 records -> dmarc@big.test
1 reports, 0 periods skipped, 0 failed"
unzip "$T_TMP/big"
x=$T_TMP/big/$f.xml
valid "10,000 records: schema-valid" "$x"
t_eq "10,000 records: <record> elements" "$(xp "$x" "count($(E record))")" 10000
t_eq "10,000 records: distinct sources" \
    "$(xp "$x" "$(E source_ip)/text()" | sort -u | wc -l)" 10000
t_eq "10,000 records: the counts sum to the messages" \
    "$(xp "$x" "sum($(E count))")" 30000
t_eq "10,000 records: no <error>" "$(xp "$x" "count($(E error))")" 0
# reports.max_rows = 5000: the same period (same store, same id).
sed "s|db/big5k.db|db/big.db|" "$T_TMP/big5k.conf" > "$T_TMP/big5k.tmp" &&
    mv "$T_TMP/big5k.tmp" "$T_TMP/big5k.conf"
send big5k "$T_TMP/big5k" $((D + 86400))
t_eq "max_rows = 5000: send" "$rc $(cat "$T_TMP/big5k.out")" \
    "0 $f.xml.gz 15000 messages, 5000 records -> dmarc@big.test
1 reports, 0 periods skipped, 0 failed"
unzip "$T_TMP/big5k"
x=$T_TMP/big5k/$f.xml
valid "max_rows = 5000: schema-valid" "$x"
t_eq "max_rows = 5000: <record> elements" "$(xp "$x" "count($(E record))")" 5000
t_eq "max_rows = 5000: the counts of the records kept" \
    "$(xp "$x" "sum($(E count))")" 15000
t_eq "max_rows = 5000: <error>" "$(xp "$x" "string($(E error))")" \
    "5000 of 10000 records left out (reports.max_rows)"
# More records than fit reports.max_kbytes (here 256 KiB, about 370 of
# these records): the report is cut before the ceiling, the largest counts
# kept and the cut said. (The default, 64 MiB, cuts a period past about
# 95,000 records the same way; too slow a test under the sanitizers.)
D2=$((D + 86400))
conf huge "max_kbytes = 256;"
"$FILL" "sqlite:$T_TMP/db/huge.db" --domain huge.test --when "$D2" \
    --sources 100 --count 5 > /dev/null
"$FILL" "sqlite:$T_TMP/db/huge.db" --domain huge.test --when "$D2" \
    --sources 1900 --first-source 100 --count 1 > /dev/null
send huge "$T_TMP/huge" $((D2 + 86400))
t_eq "2,000 records, 256 KiB: sent" "$rc $(tail -1 "$T_TMP/huge.out")" \
    "0 1 reports, 0 periods skipped, 0 failed"
unzip "$T_TMP/huge"
x=$(ls "$T_TMP/huge"/*.xml)
kept=$(xp "$x" "count($(E record))")
t_eq "2,000 records, 256 KiB: cut, under the ceiling" \
    "$([ "$kept" -gt 200 ] && [ "$kept" -lt 2000 ] &&
	[ "$(stat -c %s "$x")" -le 262144 ] && echo yes)" yes
t_eq "2,000 records, 256 KiB: the 100 largest counts kept first" \
    "$(xp "$x" "sum($(E count))")" $((500 + kept - 100))
t_eq "2,000 records, 256 KiB: <error> says how many, and why" \
    "$(xp "$x" "string($(E error))")" \
    "$((2000 - kept)) of 2000 records left out (reports.max_kbytes)"
valid "2,000 records, 256 KiB: schema-valid" "$x"

# storefill --repeat: the same rows again, one store_add per batch.
conf rep
t_eq "storefill --repeat 4 --batch 2" \
    "$("$FILL" "sqlite:$T_TMP/db/rep.db" --domain rep.test --when "$D" \
	--sources 3 --count 2 --repeat 4 --batch 2)" \
    "storefill: 3 rows, 24 messages, 8 batches"
t_eq "  ... three rows, each counted 8 times" \
    "$("$REP" -c "$T_TMP/rep.conf" list 2>&1; sqlite3 -batch -noheader "$T_TMP/db/rep.db" 'SELECT DISTINCT count FROM report_rows')" \
    "2026-07-01 rep.test messages=24 rows=3 p=reject rua=mailto:dmarc@rep.test state=unsent
8"
t_eq "parts 1 to 3 asked the DNS nothing" "$(t_dns_count .)" 0

# --- 4. rua with WSP around the comma, through the daemon ---
conf ws
am_start "$T_TMP/ws.conf" || { t_fail "daemon starts"; t_done; exit 1; }
sed 's/@bank.test/@ws.test/' "$data/spoof-reject.eml" > "$T_TMP/ws.eml"
out=$(miltc_run --ip 192.0.2.66 --helo mail.attacker.test \
    --mail-from x@attacker.test --rcpt bob@mx.test < "$T_TMP/ws.eml")
am_stop
t_eq "ws.test: the spoof rejected" "$(printf '%s\n' "$out" | grep '^reply eom:')" \
    "reply eom: reject 550 5.7.1 Email rejected per DMARC policy for ws.test"
today=$(date -u +%Y-%m-%d)
t_eq "ws.test: the period keeps both URIs, WSP dropped" \
    "$("$REP" -c "$T_TMP/ws.conf" list 2>&1)" \
    "$today ws.test messages=1 rows=1 p=reject rua=mailto:a@ws.test,mailto:b@ws.test state=unsent"
send ws "$T_TMP/ws" $(($(day "$today") + 86400 + 600))
t_eq "ws.test: the report goes to both" \
    "$rc $(sed '1s/^[^ ]* //' "$T_TMP/ws.out") $(cat "$T_TMP/ws.err")" \
    "0 1 messages, 1 records -> a@ws.test, b@ws.test
1 reports, 0 periods skipped, 0 failed "
t_done
