#!/usr/bin/python3
"""Plays the OpenSPF RFC 7208 test suite through `authmilter-check spf`.

    rfc7208.py --check BIN --zone FILE --port PORT --pid PID --dns-conf FILE
               [--suite rfc7208-tests.yml.gz] [--only NAME ...]

For each scenario (YAML document) it writes the zonedata to --zone in the
JSON format t/tools/dnsserver.py reads, makes the server (--pid) reload it
with SIGHUP, waits until the server answers with the new zone, then runs
one `BIN spf --ip HOST --mail-from PATH --helo HELO --dns-conf FILE
--dns-timeout 1` per test: a fresh process, so a fresh libunbound cache.
A test passes when the first output line is one of the listed results and,
when the test names an explanation, the second line says
`explanation: TEXT`. Prints `ok NAME` or `FAIL NAME (spec) got X want Y`
per test and closes with `N passed, N failed, N skipped`.

How the zonedata is served (the suite leaves this to its drivers; these
are the rules of its reference driver, pyspf's testspf.py):
  - Type SPF (99) records are not served: RFC 7208 3.1 and 14.1 leave
    them unused. As the suite's header says, drivers copy them into TXT
    records when a name has no TXT entry at all; a "TXT: NONE" entry
    stops that copy (the "Record lookup" and "Selecting records" scenarios
    test exactly this).
  - TIMEOUT: queries go unanswered (authmilter-check waits --dns-timeout
    1 and gives temperror). In pyspf a name's entries are read in order up
    to the TIMEOUT: the types with records before it are answered, every
    other type times out, and entries after it are never reached. A name
    with no record before its TIMEOUT is served as "TIMEOUT" (the server
    leaves every query for it unanswered). A name with records before it
    (the suite's spftimeout.example.net: TXT, then TIMEOUT) is served
    those records and a CNAME to TIMEOUT_NAME, itself "TIMEOUT": a query
    for a type it has is answered, and a query for any other type follows
    the CNAME inside the server, which then sends no answer at all, so
    that type times out unanswered as in pyspf. (Only a query for type
    CNAME itself would see the CNAME.)
  - A TXT record of zero strings ("SPF: []", test null-text) cannot be
    sent: RFC 1035 3.3.14 makes TXT-DATA one or more character-strings,
    and libunbound fails the whole answer. It is served as one empty
    string, the nearest record DNS can carry.
  - Strings with \\x escapes in the YAML are code points U+0080..U+00FF;
    the server sends them UTF-8 encoded. They stay non-ASCII either way,
    which is all those tests are about (RFC 7208 3.1, 6.2).
  - Names are written as dnslib prints them (a space as \\032), since
    the server looks up the printed query name (test
    macro-mania-in-domain has spaces in a name).
  - Explanation "DEFAULT" is the pyspf driver's default explanation: it
    means "no exp= explanation", so no `explanation:` line is expected.

How the identities are given: `authmilter-check spf` takes --mail-from as
the daemon takes an MTA's MAIL FROM, an RFC 5321 4.1.2 path. The suite's
MAILFROM is check_host()'s <sender> (RFC 7208 4.1), so it is sent as the
path an SMTP client would send for it: in angle brackets, the local-part
quoted when it is not a Dot-string ("Macro Error", or the empty one of
"@example.net", which RFC 7208 4.3 makes "postmaster"); "" is the null
path "<>". A path without a usable domain (a domain literal, an empty
label, a label over 63 octets) is "none" (RFC 7208 4.3), as in the daemon.
A HELO without a usable domain and a null path give "none" without a check
(RFC 7208 2.6.1), as the suite expects.
"""
import argparse
import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import yaml
from dnslib import QTYPE, DNSLabel, DNSRecord

SUITE = "/usr/share/doc/python3-spf/rfc7208-tests.yml.gz"

# Tests skipped, each with the RFC section that justifies it. Target: none.
SKIP = {}

# Explanations compared ignoring ASCII case, each with its reason; every
# test that passes only so is counted and listed before the closing line.
EXPLANATION_ANY_CASE = {
    # RFC 7208 7.3 says only that for IPv6 "the "i" macro expands to a
    # dot-format address"; it fixes no case for the nibbles. Its 7.4
    # example writes them in lower case, which we follow; the suite's
    # text comes from pyspf, which writes them in upper case (as RFC 4408
    # 8.2's example did). DNS names compare without case (RFC 4343), so
    # only the text shown differs.
    "v-macro-ip6": "RFC 7208 7.3 fixes no case for the nibbles of %{i}; "
                   "7.4 writes them in lower case, the suite in upper case",
}

GEN_NAME = "generation.rfc7208-runner.test"
TIMEOUT_NAME = "timeout.rfc7208-runner.test"


def presentation(name):
    """The name as the server's dnslib prints a query name (a space is
    \\032), which is how it looks names up in the zone."""
    labels = [l.encode("utf-8") for l in name.rstrip(".").split(".")]
    return str(DNSLabel(labels)).rstrip(".").lower()


def txt_strings(v):
    if isinstance(v, list):
        return v if v else [""]
    return [v]


def zone_json(zonedata, generation):
    """The scenario's zonedata as dnsserver.py's JSON."""
    out = {}
    for name, entries in zonedata.items():
        has_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
        served = []        # (position, entry) in pyspf's order
        timeout_at = None
        for i, e in enumerate(entries):
            if e == "TIMEOUT":
                if timeout_at is None:
                    timeout_at = i
                continue
            (t, v), = e.items()
            if t == "SPF":
                continue
            if t == "TXT":
                if v == "NONE":
                    continue
                served.append((i, {"type": "TXT", "data": txt_strings(v)}))
            elif t == "MX":
                served.append((i, {"type": "MX", "data": [v[0], v[1]]}))
            elif t in ("A", "AAAA", "PTR", "CNAME"):
                served.append((i, {"type": t, "data": v}))
            else:
                raise ValueError("unknown zonedata type %s" % t)
        if not has_txt:
            # Generated TXT copies come after every entry (pyspf order).
            for e in entries:
                if isinstance(e, dict) and "SPF" in e:
                    served.append((len(entries),
                                   {"type": "TXT",
                                    "data": txt_strings(e["SPF"])}))
        if timeout_at is not None:
            # pyspf never reads past the TIMEOUT.
            served = [(pos, e) for pos, e in served if pos < timeout_at]
        recs = [e for _, e in served]
        if timeout_at is not None and not recs:
            recs = ["TIMEOUT"]
        elif timeout_at is not None:
            if any(e["type"] == "CNAME" for e in recs):
                raise ValueError("%s: a CNAME before a TIMEOUT cannot be "
                                 "served" % name)
            # The other types time out: see the module's docstring.
            recs.append({"type": "CNAME", "data": TIMEOUT_NAME})
        key = presentation(name)
        out.setdefault(key, []).extend(recs)
    out[GEN_NAME] = [{"type": "TXT", "data": [str(generation)]}]
    out[TIMEOUT_NAME] = ["TIMEOUT"]
    return out


def server_generation(port):
    q = DNSRecord.question(GEN_NAME, "TXT")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    try:
        s.sendto(q.pack(), ("127.0.0.1", port))
        data, _ = s.recvfrom(65535)
    except OSError:
        return None
    finally:
        s.close()
    r = DNSRecord.parse(data)
    for rr in r.rr:
        if rr.rtype == QTYPE.TXT:
            return b"".join(rr.rdata.data).decode()
    return None


def load_zone(args, zonedata, generation):
    tmp = args.zone + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(zone_json(zonedata, generation), f)
    os.rename(tmp, args.zone)
    os.kill(args.pid, signal.SIGHUP)
    deadline = time.time() + 10
    while time.time() < deadline:
        if server_generation(args.port) == str(generation):
            return
        time.sleep(0.05)
    raise RuntimeError("the DNS server did not reload the zone")


# RFC 5321 4.1.2 Dot-string.
DOT_STRING = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
                        r"(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")



def smtp_path(sender):
    """check_host()'s <sender> as the MAIL FROM path an SMTP client sends
    (RFC 5321 4.1.2): angle brackets, the local-part quoted unless it is a
    Dot-string; "" is the null path."""
    if sender == "":
        return "<>"
    local, at, domain = sender.rpartition("@")
    if not at:
        return "<%s>" % sender
    if not DOT_STRING.fullmatch(local):
        local = '"%s"' % re.sub(r'(["\\])', r"\\\1", local)
    return "<%s@%s>" % (local, domain)


def run_test(args, t):
    cmd = [args.check, "spf", "--ip", str(t["host"]),
           "--mail-from", smtp_path(str(t.get("mailfrom", ""))),
           "--helo", str(t.get("helo", "")),
           "--dns-conf", args.dns_conf, "--dns-timeout", "1"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    lines = p.stdout.decode("utf-8", "replace").splitlines()
    got = lines[0] if lines else "(no output, exit %d: %s)" % (
        p.returncode, p.stderr.decode("utf-8", "replace").strip())
    exp = None
    if len(lines) > 1 and lines[1].startswith("explanation: "):
        exp = lines[1][len("explanation: "):]
    return got, exp, p.stderr.decode("utf-8", "replace").strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", required=True)
    ap.add_argument("--zone", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--dns-conf", required=True)
    ap.add_argument("--suite", default=SUITE)
    ap.add_argument("--only", action="append")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    with gzip.open(args.suite, "rb") as f:
        docs = list(yaml.safe_load_all(f))
    passed = failed = skipped = 0
    any_case = []  # tests that passed only ignoring case
    generation = 0
    for doc in docs:
        tests = doc["tests"]
        names = [n for n in tests if not args.only or n in args.only]
        if not names:
            continue
        generation += 1
        load_zone(args, doc.get("zonedata") or {}, generation)
        for name in names:
            t = tests[name]
            spec = t.get("spec", "")
            if name in SKIP:
                skipped += 1
                print("skip %s (%s): %s" % (name, spec, SKIP[name]))
                continue
            want = t["result"] if isinstance(t["result"], list) \
                else [t["result"]]
            got, exp, err = run_test(args, t)
            ok = got in want
            why = "got %s want %s" % (got, "|".join(want))
            if ok and "explanation" in t:
                wexp = t["explanation"]
                if wexp == "DEFAULT":
                    if exp is not None:
                        ok = False
                        why = "explanation %r, want none" % exp
                elif name in EXPLANATION_ANY_CASE and exp != wexp:
                    if exp is None or exp.lower() != wexp.lower():
                        ok = False
                        why = "explanation %r want %r" % (exp, wexp)
                    else:
                        any_case.append(name)
                elif exp != wexp:
                    ok = False
                    why = "explanation %r want %r" % (exp, wexp)
            if ok:
                passed += 1
                print("ok   %s%s" % (name, " (explanation compared "
                                     "case-insensitively)"
                                     if name in any_case else ""))
            else:
                failed += 1
                print("FAIL %s (%s) %s" % (name, spec, why))
                if args.verbose and err:
                    print("  " + err.replace("\n", "\n  "))
    if any_case:
        print("%d compared case-insensitively: %s" % (
            len(any_case), "; ".join("%s (%s)" % (n, EXPLANATION_ANY_CASE[n])
                                     for n in any_case)))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
