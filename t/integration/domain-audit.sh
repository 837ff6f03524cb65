#!/bin/sh
# authmilter-check domain: what a domain publishes, audited through the
# daemon's SPF engine (its own lookup counter, via the trace), DMARC and
# DKIM modules, against the loopback DNS server. One zone per finding and
# the clean case; exact finding lines and exit statuses.
. "$top_srcdir/t/lib/common.sh"
. "$top_srcdir/t/integration/lib.sh"

data=$top_srcdir/t/data/msgauth
check=$top_builddir/milter/authmilter-check

$PY - "$data/zone.json" "$T_TMP/zone.json" <<'EOPY'
import json, sys
z = json.load(open(sys.argv[1]))
T = lambda d: [{"type": "TXT", "data": d}]
z["ok.test"] = T("v=spf1 include:_spf.ok.test -all")
z["_spf.ok.test"] = T("v=spf1 ip4:192.0.2.0/24 a:mail.ok.test -all")
z["mail.ok.test"] = [{"type": "A", "data": "192.0.2.1"}]
z["_dmarc.ok.test"] = T("v=DMARC1; p=reject; rua=mailto:d@ok.test")
z["s1._domainkey.ok.test"] = z["s1._domainkey.bank.test"]
z["plus.test"] = T("v=spf1 +all")
z["_dmarc.plus.test"] = T("v=DMARC1; p=none")
z["soft.test"] = T("v=spf1 a:gone.soft.test ~all")
z["_dmarc.soft.test"] = T("v=DMARC1; p=reject; pct=50; rua=mailto:r@elsewhere.test")
z["quiet.test"] = T("v=spf1 -all")
z["_dmarc.quiet.test"] = T("v=DMARC1; p=reject")
z["*._domainkey.quiet.test"] = T("v=DKIM1; p=")
json.dump(z, open(sys.argv[2], "w"))
EOPY
t_dns_start "$T_TMP/zone.json"
cp "$data/s1.key" "$T_TMP/s1.key"
chmod 600 "$T_TMP/s1.key"
cat > "$T_TMP/c.conf" <<EOC
dkim: { sign: {
	keys = ({ name = "k"; domain = "ok.test"; selector = "s1"; algorithm = "rsa-sha256"; file = "$T_TMP/s1.key"; });
	table = ({ from = "*@ok.test"; keys = ["k"]; });
}; };
EOC
run() { # DOMAIN [OPTS]: output into $out, status into $rc
	d=$1; shift
	out=$("$check" domain "$d" -c "$T_TMP/c.conf" --dns-conf "$DNS_CONF" "$@" 2>&1)
	rc=$?
}

run ok.test
t_eq "clean domain: exit 0" "$rc" 0
t_eq "  ... its findings" "$out" "ok spf include:_spf.ok.test (in ok.test): 2 DNS lookups, depth 0
ok spf ok.test: 2 of 10 DNS lookups
ok dmarc _dmarc.ok.test: record found: p=reject sp=- np=-
ok dkim s1._domainkey.ok.test: published, matches $T_TMP/s1.key (2048 bits)"

run plus.test
t_eq "+all: exit 1" "$rc" 1
t_eq "  ... its findings" "$out" "ok spf plus.test: 0 of 10 DNS lookups
error spf plus.test: +all lets every host pass -- fix: end the record with -all or ~all
ok dmarc _dmarc.plus.test: record found: p=none sp=- np=-
warning dmarc _dmarc.plus.test: no rua: no aggregate reports -- fix: add rua=mailto:dmarc@plus.test
warning dkim plus.test: no signing key in dkim.sign.keys -- fix: add a key for it to dkim.sign.keys and the table"

run soft.test
t_eq "warnings only: exit 0" "$rc" 0
t_eq "  ... void a:, pct, external rua, ~all under p=reject" "$out" "warning spf a:gone.soft.test (in soft.test): gone.soft.test does not resolve (a void lookup) -- fix: remove the term or publish the host
ok spf soft.test: 1 of 10 DNS lookups
warning spf soft.test: 1 of 2 void lookups -- fix: remove terms that name no host
ok dmarc _dmarc.soft.test: record found: p=reject sp=- np=-
warning dmarc _dmarc.soft.test: pct= was removed in RFC 9989 -- fix: remove pct= (use t=y to test)
warning dmarc mailto:r@elsewhere.test: external destination not authorized (RFC 9990 3.3): no reports go there -- fix: publish TXT \"v=DMARC1\" at soft.test._report._dmarc.elsewhere.test
warning spf soft.test: ~all while DMARC is p=reject -- fix: end the SPF record with -all
warning dkim soft.test: no signing key in dkim.sign.keys -- fix: add a key for it to dkim.sign.keys and the table"

run quiet.test --no-mail
t_eq "--no-mail, all in place: exit 0" "$rc" 0
run ok.test --no-mail
t_eq "--no-mail on a sending domain: exit 1" "$rc" 1
run none.test --json
t_eq "nothing published, --json: exit 1" "$rc" 1
t_eq "  ... first finding as JSON" "$(echo "$out" | sed -n 2p)" ' {"severity": "error", "area": "spf", "subject": "none.test", "message": "no v=spf1 record", "fix": "publish one TXT \"v=spf1 mx -all\" at none.test"},'
"$check" domain >/dev/null 2>&1
t_eq "no DOMAIN: usage, exit 2" "$?" 2
t_done
