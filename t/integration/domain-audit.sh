#!/bin/sh
# authmilter-check domain: what a domain publishes, audited through the
# daemon's SPF engine (its own lookup counter, via the trace), DMARC and
# DKIM modules, against the loopback DNS server. One zone per finding and
# the clean case; exact finding lines and exit statuses.
. "$top_srcdir/t/lib/common.sh"
. "$top_srcdir/t/integration/lib.sh"

data=$top_srcdir/t/data/msgauth
check=$top_builddir/milter/authmilter-check

keygen=$top_builddir/milter/authmilter-keygen
mkdir -p "$T_TMP/keys"
# weak.test: 1024 bits, a selector from January 2020 (old). mis.test: a
# key whose published p= is another key's. unpub.test: never published.
for k in weak.test:s202001:1024 mis.test:s1:2048 unpub.test:s1:2048; do
	IFS=: read -r d s b <<EOK
$k
EOK
	mkdir -p "$T_TMP/keys/$d"
	"$keygen" -d "$d" -s "$s" -b "$b" -D "$T_TMP/keys/$d" \
	    >"$T_TMP/keys/$d.out" 2>/dev/null || t_fail "keygen $d"
done
$PY - "$data/zone.json" "$T_TMP/zone.json" "$T_TMP/keys/weak.test.out" <<'EOPY'
import json, re, sys
z = json.load(open(sys.argv[1]))
T = lambda d: [{"type": "TXT", "data": d}]
def keyrec(path):
    text = open(path).read()
    line = text[text.index("IN TXT ("):text.index(")", text.index("IN TXT ("))]
    return "".join(re.findall(r'"([^"]*)"', line))
z["s202001._domainkey.weak.test"] = T(keyrec(sys.argv[3]) + "; t=y")
z["weak.test"] = T("v=spf1 -all")
z["_dmarc.weak.test"] = T("v=DMARC1; p=reject; rua=mailto:d@weak.test")
z["mis.test"] = T("v=spf1 -all")
z["_dmarc.mis.test"] = T("v=DMARC1; p=reject; rua=mailto:d@mis.test")
z["s1._domainkey.mis.test"] = z["s1._domainkey.bank.test"]
z["unpub.test"] = T("v=spf1 -all")
z["_dmarc.unpub.test"] = T("v=DMARC1; p=reject; rua=mailto:d@unpub.test")
# The lookup tree: tree.test costs 1 (include) + a.tree.test's 2 (its
# include of b.tree.test and a:) + b.tree.test's 1 (mx) = 4; eight.test
# 8, over.test 11 (the engine stops at the 11th).
z["tree.test"] = T("v=spf1 include:a.tree.test ip4:192.0.2.1 ~all")
z["a.tree.test"] = T("v=spf1 include:b.tree.test a:h.tree.test -all")
z["b.tree.test"] = T("v=spf1 mx -all")
z["b.tree.test"].append({"type": "MX", "data": [10, "mx.b.tree.test"]})
z["mx.b.tree.test"] = [{"type": "A", "data": "192.0.2.2"}]
z["h.tree.test"] = [{"type": "A", "data": "192.0.2.3"}]
z["_dmarc.tree.test"] = T("v=DMARC1; p=none; rua=mailto:d@tree.test")
for name, n in (("eight.test", 8), ("over.test", 11)):
    z[name] = T("v=spf1 " + " ".join("a:h%d.%s" % (i, name) for i in range(n)) + " ~all")
    for i in range(n):
        z["h%d.%s" % (i, name)] = [{"type": "A", "data": "192.0.2.%d" % (i + 1)}]
    z["_dmarc." + name] = T("v=DMARC1; p=none; rua=mailto:d@" + name)
# redirect= costs itself and the record it names: 1 + a: + include = 3.
z["red.test"] = T("v=spf1 redirect=_r.red.test")
z["_r.red.test"] = T("v=spf1 a:h.red.test include:_i.red.test ~all")
z["_i.red.test"] = T("v=spf1 ip4:192.0.2.9 -all")
z["h.red.test"] = [{"type": "A", "data": "192.0.2.8"}]
# A redirect inside an include: its cost stops where the include ends.
z["ri.test"] = T("v=spf1 include:red.test a:h.red.test ~all")
z["_dmarc.ri.test"] = T("v=DMARC1; p=none; rua=mailto:d@ri.test")
z["_dmarc.red.test"] = T("v=DMARC1; p=none; rua=mailto:d@red.test")
z["two.test"] = T("v=spf1 -all") + T("v=spf1 ~all")
z["ptr.test"] = T("v=spf1 ptr mx ~all")
z["ptr.test"].append({"type": "MX", "data": [10, "noaddr.ptr.test"]})
z["noaddr.ptr.test"] = T("not an address")
z["_dmarc.ptr.test"] = T("v=DMARC1; p=none; t=y; rua=mailto:d@ptr.test")
z["bad.test"] = T("v=spf1 foo:bar -all")
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
# -all under p=quarantine: the guides want ~all until p=reject.
z["hard.test"] = T("v=spf1 -all")
z["_dmarc.hard.test"] = T("v=DMARC1; p=quarantine; rua=mailto:d@hard.test")
# One zone per remaining finding.
z["qall.test"] = T("v=spf1 ip4:192.0.2.1 ?all")
z["noall.test"] = T("v=spf1 ip4:192.0.2.1")
z["inc.test"] = T("v=spf1 include:gone.inc.test ~all")
z["gone.inc.test"] = [{"type": "A", "data": "192.0.2.1"}]
z["voids.test"] = T("v=spf1 a:n1.voids.test a:n2.voids.test a:n3.voids.test ~all")
z["tmp.test"] = T("v=spf1 include:sf.tmp.test ~all")
z["sf.tmp.test"] = "SERVFAIL"
z["_dmarc.twod.test"] = T("v=DMARC1; p=none") + T("v=DMARC1; p=reject")
z["_dmarc.org.test"] = T("v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@org.test")
z["sub.org.test"] = T("v=spf1 ~all")
z["badp.test"] = T("v=spf1 -all")
z["_dmarc.badp.test"] = T("v=DMARC1; p=maybe; rua=mailto:d@badp.test")
z["nosemi.test"] = T("v=spf1 ~all")
z["_dmarc.nosemi.test"] = T("v=DMARC1 p=reject")
z["parked.test"] = T("v=spf1 -all")
z["_dmarc.parked.test"] = T("v=DMARC1; p=none; rua=mailto:d@parked.test")
z["*._domainkey.parked.test"] = T("v=DKIM1; p=")
z["s1._domainkey.dktmp.test"] = "SERVFAIL"
for d in ("dk2.test", "dkbad.test", "dktmp.test", "age.test", "ed.test"):
    z[d] = T("v=spf1 -all")
    z["_dmarc." + d] = T("v=DMARC1; p=reject; rua=mailto:d@" + d)
z["s1._domainkey.dk2.test"] = z["s1._domainkey.bank.test"] * 2
z["s1._domainkey.dkbad.test"] = T("v=DKIM1; k=rsa; p=!!notbase64")
z["mail._domainkey.age.test"] = z["s1._domainkey.bank.test"]
z["e1._domainkey.ed.test"] = z["e1._domainkey.bank.test"]
# Strings (RFC 7208 3.3): glued.test split its record at a space and
# dropped it, so "ip4:192.0.2.1mx" is one term; long.test is one 311-octet
# value the server cuts into 255 + 56 octets, inside a term, as it may be.
z["glued.test"] = [{"type": "TXT", "data": ["v=spf1 ip4:192.0.2.1", "mx -all"]}]
z["_dmarc.glued.test"] = T("v=DMARC1; p=reject; rua=mailto:d@glued.test")
z["long.test"] = T("v=spf1 " + "".join("ip4:192.0.2.%d " % i for i in range(10, 30)) + "~all")
z["_dmarc.long.test"] = T("v=DMARC1; p=none; rua=mailto:d@long.test")
z["*._domainkey.quiet.test"] = T("v=DKIM1; p=")
json.dump(z, open(sys.argv[2], "w"))
EOPY
t_dns_start "$T_TMP/zone.json"
cp "$data/s1.key" "$T_TMP/s1.key"
cp "$data/s1.key" "$T_TMP/old.key"
cp "$data/e1.key" "$T_TMP/e1.key"
chmod 600 "$T_TMP/s1.key" "$T_TMP/old.key" "$T_TMP/e1.key"
# age.test's selector has no date: the key file's time says 200 days.
touch -d "@$(( $(date -u +%s) - 200 * 86400 ))" "$T_TMP/old.key"
K=$T_TMP/keys
cat > "$T_TMP/c.conf" <<EOC
dkim: { sign: {
	keys = ({ name = "k"; domain = "ok.test"; selector = "s1"; algorithm = "rsa-sha256"; file = "$T_TMP/s1.key"; },
		{ name = "w"; domain = "weak.test"; selector = "s202001"; algorithm = "rsa-sha256"; file = "$K/weak.test/s202001.key"; },
		{ name = "m"; domain = "mis.test"; selector = "s1"; algorithm = "rsa-sha256"; file = "$K/mis.test/s1.key"; },
		{ name = "u"; domain = "unpub.test"; selector = "s1"; algorithm = "rsa-sha256"; file = "$K/unpub.test/s1.key"; },
		{ name = "d2"; domain = "dk2.test"; selector = "s1"; algorithm = "rsa-sha256"; file = "$T_TMP/s1.key"; },
		{ name = "db"; domain = "dkbad.test"; selector = "s1"; algorithm = "rsa-sha256"; file = "$T_TMP/s1.key"; },
		{ name = "dt"; domain = "dktmp.test"; selector = "s1"; algorithm = "rsa-sha256"; file = "$T_TMP/s1.key"; },
		{ name = "ag"; domain = "age.test"; selector = "mail"; algorithm = "rsa-sha256"; file = "$T_TMP/old.key"; },
		{ name = "ed"; domain = "ed.test"; selector = "e1"; algorithm = "ed25519-sha256"; file = "$T_TMP/e1.key"; });
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
ok dkim s1._domainkey.ok.test: published, matches $T_TMP/s1.key (RSA, 2048 bits)"

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

age=$(( ($(date -u +%s) - $(date -u -d 2020-01-01 +%s)) / 86400 ))
run weak.test
t_eq "weak key: exit 1" "$rc" 1
t_eq "  ... 1024 bits, t=y, old selector" "$(echo "$out" | grep dkim)" "ok dkim s202001._domainkey.weak.test: published, matches $K/weak.test/s202001.key (RSA, 1024 bits)
error dkim s202001._domainkey.weak.test: RSA key of 1024 bits: too weak to sign with -- fix: make a 2048-bit key with authmilter-keygen and rotate
warning dkim s202001._domainkey.weak.test: t=y: verifiers may ignore failures -- fix: remove t=y from the record
warning dkim s202001._domainkey.weak.test: key is $age days old (max_key_age_days 180) -- fix: rotate: a new dated key from authmilter-keygen first in the row (publish_check), then retire this one"
run mis.test
t_eq "published key is another one: exit 1" "$rc" 1
t_eq "  ... the finding" "$(echo "$out" | grep dkim)" "error dkim s1._domainkey.mis.test: published p= is not the public half of $K/mis.test/s1.key -- fix: publish the TXT record authmilter-keygen printed for $K/mis.test/s1.key"
run unpub.test
t_eq "key not published: exit 1" "$rc" 1
t_eq "  ... the finding" "$(echo "$out" | grep dkim)" "error dkim s1._domainkey.unpub.test: key not published -- fix: publish the TXT record authmilter-keygen printed for $K/unpub.test/s1.key"

run tree.test
t_eq "include tree: exit 0 (warning for no key)" "$rc" 0
t_eq "  ... what each include costs, the engine's total" "$(echo "$out" | grep spf)" "ok spf include:a.tree.test (in tree.test): 4 DNS lookups, depth 0
ok spf include:b.tree.test (in a.tree.test): 2 DNS lookups, depth 1
ok spf tree.test: 4 of 10 DNS lookups"
# The limit is the engine's: authmilter-check spf (the daemon's check)
# gives permerror for over.test and not for eight.test.
run red.test
t_eq "redirect: what it costs" "$(echo "$out" | grep spf)" "ok spf redirect=_r.red.test (in red.test): 3 DNS lookups, depth 0
ok spf include:_i.red.test (in _r.red.test): 1 DNS lookup, depth 0
ok spf red.test: 3 of 10 DNS lookups"
run ri.test
t_eq "redirect inside an include" "$(echo "$out" | grep spf)" "ok spf include:red.test (in ri.test): 4 DNS lookups, depth 0
ok spf redirect=_r.red.test (in red.test): 3 DNS lookups, depth 1
ok spf include:_i.red.test (in _r.red.test): 1 DNS lookup, depth 1
ok spf ri.test: 5 of 10 DNS lookups"
run eight.test
t_eq "8 lookups: a warning" "$(echo "$out" | grep 'spf eight.test:')" "warning spf eight.test: 8 of 10 DNS lookups -- fix: flatten includes into ip4:/ip6: before the limit"
run over.test
t_eq "11 lookups: exit 1" "$rc" 1
t_eq "  ... an error" "$(echo "$out" | grep 'spf over.test:')" "error spf over.test: more than 10 DNS lookups (DNS lookup limit (10 terms) at a:h10.over.test) -- fix: flatten includes into ip4:/ip6: or drop some"
t_eq "  ... where the engine itself says permerror" \
    "$("$check" spf --ip 240.0.0.1 --mail-from x@over.test --helo over.test --dns-conf "$DNS_CONF" 2>&1)" "permerror"
t_eq "  ... and 8 passes the engine" \
    "$("$check" spf --ip 240.0.0.1 --mail-from x@eight.test --helo eight.test --dns-conf "$DNS_CONF" 2>&1)" "softfail"
run two.test
t_eq "two SPF records: the error" "$(echo "$out" | grep 'spf')" "error spf two.test: multiple SPF records at two.test -- fix: publish one TXT \"v=spf1 mx -all\" at two.test"
run bad.test
t_eq "syntax error: the error" "$(echo "$out" | grep 'spf')" "error spf bad.test: unknown mechanism in the record of bad.test -- fix: publish one TXT \"v=spf1 mx -all\" at bad.test"
run ptr.test
t_eq "ptr, MX host without address, DMARC t=y" "$(echo "$out" | grep warning | grep -v dkim)" "warning spf ptr (in ptr.test): ptr is slow and should not be used (RFC 7208 5.5) -- fix: replace ptr with ip4:/ip6: or a: terms
warning spf mx (in ptr.test): 1 MX host of ptr.test without an address -- fix: give every MX host an address, or drop the term
warning dmarc _dmarc.ptr.test: t=y: receivers apply a softer policy -- fix: remove t=y when done testing"

run hard.test
t_eq "-all under p=quarantine: a warning" "$(echo "$out" | grep 'warning spf')" "warning spf hard.test: -all while DMARC is p=quarantine: receivers that reject on an SPF fail drop forwarded mail before DMARC sees its DKIM pass -- fix: end the SPF record with ~all until DMARC is p=reject"
run qall.test
t_eq "?all: a warning" "$(echo "$out" | grep '^warning spf')" "warning spf qall.test: ?all makes every other host neutral -- fix: end the record with -all or ~all"
t_eq "no DMARC record: an error" "$(echo "$out" | grep dmarc)" "error dmarc qall.test: no DMARC record -- fix: publish TXT \"v=DMARC1; p=none; rua=mailto:dmarc@qall.test\" at _dmarc.qall.test"
run noall.test
t_eq "no all term: a warning" "$(echo "$out" | grep '^warning spf')" "warning spf noall.test: no all term: other hosts are neutral -- fix: end the record with -all or ~all"
run inc.test
t_eq "include of a domain without SPF: the target, the permerror" "$(echo "$out" | grep '^error spf')" "error spf gone.inc.test: record of an include/redirect target: none -- fix: publish one valid v=spf1 record there, or drop the include
error spf inc.test: permerror: include:gone.inc.test has no SPF record -- fix: correct the record"
run voids.test
t_eq "3 void lookups: an error" "$(echo "$out" | grep 'spf voids.test:')" "ok spf voids.test: 3 of 10 DNS lookups
error spf voids.test: more than 2 void lookups (void lookup limit at n3.voids.test) -- fix: remove terms that name no host"
run tmp.test
t_eq "SERVFAIL under an include: temperror, once" "$(echo "$out" | grep '^error spf')" "error spf tmp.test: temperror: SERVFAIL at sf.tmp.test -- fix: check the name servers"
run twod.test
t_eq "two DMARC records: an error" "$(echo "$out" | grep dmarc)" "error dmarc _dmarc.twod.test: 2 DMARC records -- fix: keep one v=DMARC1 record"
run sub.org.test
t_eq "DMARC found by the tree walk, sp= applies" "$rc:$(echo "$out" | grep dmarc)" "0:ok dmarc _dmarc.org.test: record found (tree walk): p=reject sp=quarantine np=-"
run badp.test
t_eq "invalid p=: an error" "$(echo "$out" | grep '^error dmarc')" "error dmarc _dmarc.badp.test: invalid policy value -- fix: p=, sp= and np= take none, quarantine or reject"
run nosemi.test
t_eq "a v=DMARC1 record that does not parse: said, and no record" "$(echo "$out" | grep dmarc)" 'error dmarc _dmarc.nosemi.test: record does not parse, so receivers ignore it: "v=DMARC1 p=reject" -- fix: correct the record: "v=DMARC1; p=none" and tags separated by ";"
error dmarc nosemi.test: no DMARC record -- fix: publish TXT "v=DMARC1; p=none; rua=mailto:dmarc@nosemi.test" at _dmarc.nosemi.test'
run dk2.test
t_eq "two key records at a selector: an error" "$(echo "$out" | grep dkim)" "error dkim s1._domainkey.dk2.test: 2 key records: one per selector, or the result is undefined (RFC 6376 3.6.2.2) -- fix: keep one record there: the one authmilter-keygen printed for $T_TMP/s1.key"
run dkbad.test
t_eq "a key record that does not parse: an error" "$(echo "$out" | grep dkim)" "error dkim s1._domainkey.dkbad.test: bad key data -- fix: publish the TXT record authmilter-keygen printed for $T_TMP/s1.key"
run dktmp.test
t_eq "a key lookup that fails: an error, not 'not published'" "$(echo "$out" | grep dkim)" "error dkim s1._domainkey.dktmp.test: lookup failed: SERVFAIL -- fix: check the name servers"
run age.test
t_eq "no date in the selector: the file's time gives the age" "$rc:$(echo "$out" | grep dkim)" "0:ok dkim mail._domainkey.age.test: published, matches $T_TMP/old.key (RSA, 2048 bits)
warning dkim mail._domainkey.age.test: key is 200 days old (max_key_age_days 180) -- fix: rotate: a new dated key from authmilter-keygen first in the row (publish_check), then retire this one"
run ed.test
t_eq "an Ed25519 key: clean" "$rc:$out" "0:ok spf ed.test: 0 of 10 DNS lookups
ok dmarc _dmarc.ed.test: record found: p=reject sp=- np=-
ok dkim e1._domainkey.ed.test: published, matches $T_TMP/e1.key (Ed25519)"
run parked.test --no-mail
t_eq "--no-mail with p=none: the error" "$rc:$(echo "$out" | grep -v '^ok ')" "1:error dmarc _dmarc.parked.test: the domain sends no mail but the policy is not reject -- fix: set p=reject (and sp=reject)"
run glued.test
t_eq "strings glued without a space: exit 1" "$rc" 1
t_eq "  ... the engine's error, then where the strings meet" "$(echo "$out" | grep spf)" 'error spf glued.test: bad ip4 in the record of glued.test -- fix: publish one TXT "v=spf1 mx -all" at glued.test
error spf glued.test: string 2 begins "mx -all" with no space after string 1: the joined record reads "v=spf1 ip4:192.0.2.1mx -all" (RFC 7208 3.3 joins strings as they are) -- fix: end string 1 with a space'
run long.test
t_eq "a record over 255 octets, split inside a term: exit 0" "$rc" 0
t_eq "  ... its strings are fine" "$(echo "$out" | grep spf)" "ok spf long.test: record of 311 octets in 2 strings, joined without spaces (RFC 7208 3.3)
ok spf long.test: 0 of 10 DNS lookups"

run quiet.test --no-mail
t_eq "--no-mail, all in place: exit 0" "$rc" 0
t_eq "  ... nothing but a missing rua" "$(echo "$out" | grep -v '^ok ')" "warning dmarc _dmarc.quiet.test: no rua: no aggregate reports -- fix: add rua=mailto:dmarc@quiet.test"
run ok.test --no-mail
t_eq "--no-mail on a sending domain: exit 1" "$rc" 1
t_eq "  ... the errors" "$(echo "$out" | grep '^error')" "error spf ok.test: the domain sends no mail but its record is \"v=spf1 include:_spf.ok.test -all\" -- fix: publish exactly \"v=spf1 -all\"
error dkim *._domainkey.ok.test: no empty key for a domain that sends no mail -- fix: publish TXT \"v=DKIM1; p=\""

run none.test --json
t_eq "nothing published, --json: exit 1" "$rc" 1
t_eq "  ... first finding as JSON" "$(echo "$out" | sed -n 2p)" ' {"severity": "error", "area": "spf", "subject": "none.test", "message": "no v=spf1 record", "fix": "publish one TXT \"v=spf1 mx -all\" at none.test"},'
t_eq "  ... the whole output parses as JSON" "$(echo "$out" | $PY -c 'import json, sys
d = json.load(sys.stdin)
print(len(d), sorted(d[0]), sum(f["severity"] == "error" for f in d))')" "3 ['area', 'fix', 'message', 'severity', 'subject'] 2"
"$check" domain >/dev/null 2>&1
t_eq "no DOMAIN: usage, exit 2" "$?" 2
t_done
