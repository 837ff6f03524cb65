#!/bin/sh
# Runs t/unit/test-rx-summary, which writes the JSON summary of each case
# into a directory, then parses each one with Python's json module (strict:
# no NaN, no duplicate keys) and checks it against itself: the day totals,
# the dispositions and the total agree, the rates are the counts', the
# verdict's state is one of the four. The hostile case's strings must come
# back from the JSON escaping byte for byte (as code points).
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib/common.sh"

OUT=$T_TMP/rx
mkdir -p "$OUT"
"$top_builddir/t/unit/test-rx-summary" "$OUT" > "$T_TMP/unit.log" 2>&1
rc=$?
# The C program's closing line is shown renamed, so that this script's
# line is the log's only one; its cases count in this script's sum.
sed 's/^\([0-9]* passed, \)/test-rx-summary: \1/' "$T_TMP/unit.log"
P=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$T_TMP/unit.log")
F=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$T_TMP/unit.log")
if [ -z "$P" ] || [ -z "$F" ]; then
	t_fail "test-rx-summary" "no closing line (exit $rc)"
else
	T_PASSED=$((T_PASSED + P))
	T_FAILED=$((T_FAILED + F))
	[ "$rc" -eq 0 ] || [ "$F" -gt 0 ] ||
	    t_fail "test-rx-summary" "exit $rc with no failed case"
fi

n=0
for f in "$OUT"/*.json; do
	[ -e "$f" ] || continue
	n=$((n + 1))
	b=$(basename "$f")
	if $PY - "$f" > "$T_TMP/j.log" 2>&1 <<'EOP'
import json, sys

def no_dups(pairs):
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "duplicate key in %r" % keys
    return dict(pairs)

def bad_constant(c):
    raise ValueError("not JSON: " + c)

raw = open(sys.argv[1], "rb").read()
assert all(0x20 <= c < 0x7f or c == 0x0a for c in raw), "not printable ASCII"
j = json.loads(raw.decode("ascii"), object_pairs_hook=no_dups,
               parse_constant=bad_constant)
for k in ("domain", "since", "now", "total", "reports", "organizations",
          "counts", "rates", "dispositions", "sources", "failing", "days",
          "verdict"):
    assert k in j, "no " + k
t = j["total"]
assert sum(d["pass"] + d["fail"] for d in j["days"]) == t or t >= 2**64 - 1
assert sum(j["dispositions"].values()) == t or t >= 2**64 - 1
assert sum(d["pass"] for d in j["days"]) == j["counts"]["pass"] or t >= 2**64 - 1
for k, c in (("dmarc_pass", "pass"), ("dkim_aligned", "dkim_aligned"),
             ("spf_aligned", "spf_aligned")):
    want = (j["counts"][c] * 10000 // t) / 100 if t else 0
    assert abs(j["rates"][k] - want) < 1e-9, (k, j["rates"][k], want)
v = j["verdict"]
assert v["state"] in ("no-data", "not-ready", "ready-for-quarantine",
                      "ready-for-reject"), v["state"]
assert 0 <= v["blocking"] <= len(v["reasons"])
assert (v["state"] == "ready-for-reject") == (v["blocking"] == 0)
assert all(isinstance(r, str) for r in v["reasons"])
for s in j["sources"] + j["failing"]:
    assert s["pass"] <= s["messages"] and s["dkim_aligned"] <= s["messages"]
    assert s["class"] in ("aligned", "authorized", "forwarder",
                          "unauthorized", "unchecked")
assert sorted((-s["messages"] for s in j["sources"])) == \
    [-s["messages"] for s in j["sources"]], "sources not by volume"
if sys.argv[1].endswith("/hostile.json"):
    ips = [s["ip"] for s in j["sources"]]
    orgs = [o for s in j["sources"] for o in s["orgs"]]
    assert '"><img src=x onerror=alert(1)>' in ips, ips
    assert '<script>alert("x")</script>&\'' in orgs, orgs
    assert "\u202eevil\x01" in orgs, orgs
print("ok")
EOP
	then
		t_ok "json: $b"
	else
		t_fail "json: $b" "$(tail -5 "$T_TMP/j.log")"
	fi
done
if [ "$n" -ge 8 ]; then
	t_ok "json: $n documents checked"
else
	t_fail "json: documents checked" "only $n in $OUT"
fi
t_done
