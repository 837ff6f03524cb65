#!/bin/sh
# Runs t/unit/test-report-xml, which writes every report it makes into a
# directory, then validates each one against RFC 9990's schema with
# xmllint (t/data/rfc9990/dmarc-xml-0.2.xsd). The RFC's sample must
# validate and a deliberately invalid document must not, so that a broken
# validator cannot pass everything. The mail of the mail case is parsed
# again with Python's email package: its attachment must be the gzip file.
# No xmllint is a failure: the schema check is the point of this test.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib/common.sh"

D=$top_srcdir/t/data/rfc9990
XSD=$D/dmarc-xml-0.2.xsd
OUT=$T_TMP/reports
mkdir -p "$OUT"

"$top_builddir/t/unit/test-report-xml" "$OUT" > "$T_TMP/unit.log" 2>&1
rc=$?
# The C program's closing line is shown renamed, so that this script's
# line is the log's only one; its cases count in this script's sum.
sed 's/^\([0-9]* passed, \)/test-report-xml: \1/' "$T_TMP/unit.log"
P=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$T_TMP/unit.log")
F=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$T_TMP/unit.log")
if [ -z "$P" ] || [ -z "$F" ]; then
	t_fail "test-report-xml" "no closing line (exit $rc)"
else
	T_PASSED=$((T_PASSED + P))
	T_FAILED=$((T_FAILED + F))
	[ "$rc" -eq 0 ] || [ "$F" -gt 0 ] ||
	    t_fail "test-report-xml" "exit $rc with no failed case"
fi

if ! command -v xmllint >/dev/null 2>&1; then
	t_fail "xmllint present" "xmllint not found: apt-get install libxml2-utils"
	t_done
	exit
fi
t_ok "xmllint present"

if xmllint --noout --schema "$XSD" "$D/sample-report.xml" \
    > "$T_TMP/v.log" 2>&1; then
	t_ok "schema: the RFC sample validates"
else
	t_fail "schema: the RFC sample validates" "$(cat "$T_TMP/v.log")"
fi
if xmllint --noout --schema "$XSD" "$D/invalid-spf-before-dkim.xml" \
    > "$T_TMP/v.log" 2>&1; then
	t_fail "schema: spf before dkim is refused" "xmllint accepted it"
elif grep -q "fails to validate" "$T_TMP/v.log"; then
	t_ok "schema: spf before dkim is refused"
else
	t_fail "schema: spf before dkim is refused" "$(cat "$T_TMP/v.log")"
fi

n=0
for f in "$OUT"/*.xml; do
	[ -e "$f" ] || continue
	n=$((n + 1))
	b=$(basename "$f")
	if xmllint --noout --schema "$XSD" "$f" > "$T_TMP/v.log" 2>&1; then
		t_ok "schema: $b"
	else
		t_fail "schema: $b" "$(head -5 "$T_TMP/v.log")"
	fi
done
if [ "$n" -ge 40 ]; then
	t_ok "schema: $n generated documents checked"
else
	t_fail "schema: generated documents checked" "only $n in $OUT"
fi

# The gzip file as gunzip(1) sees it: the report of the gzip case.
if [ -f "$OUT/gzip-3000.xml.gz" ] &&
    gzip -dc "$OUT/gzip-3000.xml.gz" | cmp -s - "$OUT/gzip-3000.xml"; then
	t_ok "gzip: gunzip gives the document back"
else
	t_fail "gzip: gunzip gives the document back"
fi

if [ -f "$OUT/mail.eml" ] && $PY - "$OUT/mail.eml" "$OUT/mail.gz" \
    > "$T_TMP/mail.log" 2>&1 <<'EOP'
import email, email.policy, sys
raw = open(sys.argv[1], "rb").read()
gz = open(sys.argv[2], "rb").read()
m = email.message_from_bytes(raw, policy=email.policy.strict)
assert m.get_content_type() == "multipart/mixed", m.get_content_type()
assert m["Auto-Submitted"] == "auto-generated"
assert m["MIME-Version"] == "1.0"
assert str(m["Subject"]) == ("Report Domain: example.com Submitter: "
    "mail.receiver.example Report-ID: abc123"), str(m["Subject"])
parts = list(m.iter_parts())
assert [p.get_content_type() for p in parts] == [
    "text/plain", "application/gzip"], parts
assert parts[0].get_content_charset() == "us-ascii"
name = ("mail.receiver.example!example.com!1013662812!1013749130!"
    "abc123.xml.gz")
assert parts[1].get_filename() == name, parts[1].get_filename()
assert parts[1].get_param("name") == name
assert parts[1].get_content_disposition() == "attachment"
assert parts[1].get_payload(decode=True) == gz, "attachment differs"
assert m.defects == [] and all(p.defects == [] for p in parts)
print("mail ok")
EOP
then
	t_ok "mail: Python's email parser reads it back"
else
	t_fail "mail: Python's email parser reads it back" "$(cat "$T_TMP/mail.log")"
fi

t_done
