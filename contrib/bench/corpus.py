#!/usr/bin/python3
"""Makes the benchmark corpus: messages, keys, a DNS zone and configs.

    corpus.py --out DIR --keygen PATH/authmilter-keygen \
        --check PATH/authmilter-check [--count 300] [--seed 1]

Writes into DIR:
    msg/NNNN.eml   the messages (CRLF line ends)
    index          "MAIL-FROM<TAB>msg/NNNN.eml", one line per message
    silent-index   the same for messages from domains below dead.example.org,
                   whose lookups the zone leaves unanswered
    zone.json      for t/tools/dnsserver.py: SPF, DMARC and DKIM key
                   records of every domain
    keys/          RSA-2048 and Ed25519 keys per domain (authmilter-keygen)
    mix.txt        what was made, by kind and by size

Bodies are ~2 KB, ~20 KB and ~200 KB (60/30/10 %). Kinds: rsa-sha256
relaxed/relaxed and ed25519-sha256 (signed by authmilter-check sign),
rsa-sha256 simple/simple (signed by dkimpy, python3-dkim), dual-signed
rsa+ed25519 (authmilter-check), broken (an rsa-sha256 signature, then the
body altered), unsigned, and spoofed (From a p=reject domain, unsigned,
MAIL FROM another domain: DMARC fails). Every MAIL FROM domain's SPF
record allows CLIENT_NET, the address the load generator connects from.

The domains are under example.com/.net/.org, not test.: libunbound (in
OpenDKIM) answers test. names itself as NXDOMAIN unless its config says
"local-zone: test. nodefault", and OpenDKIM cannot be given a config
safely (see RESULTS.md).
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys

import dkim

CLIENT_NET = "198.51.100.0/24"
CLIENT_IP = "198.51.100.25"
HELO = "mx1.sender.example.net"
DOMAINS = {  # From domain: DMARC policy
    "bank.example.com": "v=DMARC1; p=reject; rua=mailto:dmarc@bank.example.com",
    "shop.example.net": "v=DMARC1; p=quarantine",
    "news.example.org": "v=DMARC1; p=none",
}
SIGN_DOMAIN = "sign.example.com"  # the signing benchmark's d=
KINDS = [  # kind, share in percent
    ("rsa-relaxed", 25), ("rsa-simple", 15), ("ed25519", 10),
    ("dual", 20), ("broken", 8), ("unsigned", 18), ("spoofed", 4)]
SIZES = [(2000, 60), (20000, 30), (200000, 10)]
WORDS = ("account statement payment invoice meeting schedule report "
         "quarter budget review project update delivery order shipment "
         "customer service support ticket release notes summary minutes "
         "agenda proposal contract renewal balance transfer").split()


def pick(rng, table):
    r = rng.uniform(0, sum(w for _, w in table))
    for v, w in table:
        r -= w
        if r < 0:
            return v
    return table[-1][0]


def body(rng, size):
    lines, n = [], 0
    while n < size:
        line, ln = [], 0
        while ln < 68:
            w = rng.choice(WORDS)
            line.append(w)
            ln += len(w) + 1
        s = " ".join(line)
        lines.append(s)
        n += len(s) + 2
        if rng.random() < 0.08:
            lines.append("")
            n += 2
    return "\r\n".join(lines) + "\r\n"


def keygen(tool, domain, sel, alg, keydir):
    out = subprocess.run(
        [tool, "-d", domain, "-s", sel, "-a", alg, "-D", keydir]
        + (["-b", "2048"] if alg == "rsa" else []),
        check=True, capture_output=True, text=True).stdout
    rec = "".join(re.findall(r'"([^"]*)"', out.split("\n\n")[0]))
    return rec


def sign_conf(path, keydir, domain, keys, canon):
    rows = []
    for name, sel, alg in keys:
        rows.append('{ name = "%s"; domain = "%s"; selector = "%s"; '
                    'algorithm = "%s"; file = "%s/%s-%s.key"; }'
                    % (name, domain, sel, alg, keydir, domain, sel))
    with open(path, "w") as f:
        f.write('authserv_id = "mx.bench.test";\n'
                'dkim: { sign: { canonicalization = "%s";\n'
                'keys = (%s);\n'
                'table = ( { from = "*"; keys = [%s]; } ); }; };\n'
                % (canon, ",\n".join(rows),
                   ", ".join('"%s"' % k[0] for k in keys)))


DEAD = "dead.example.org"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--keygen", required=True)
    ap.add_argument("--check", required=True)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    out = os.path.abspath(a.out)
    keydir = os.path.join(out, "keys")
    os.makedirs(os.path.join(out, "msg"), exist_ok=True)
    os.makedirs(os.path.join(out, "conf"), exist_ok=True)
    os.makedirs(keydir, exist_ok=True)

    zone = {HELO: [{"type": "TXT", "data": "v=spf1 ip4:%s -all" % CLIENT_NET},
                   {"type": "A", "data": CLIENT_IP}]}
    for d in list(DOMAINS) + [SIGN_DOMAIN]:
        zone[d] = [{"type": "TXT", "data": "v=spf1 ip4:%s -all" % CLIENT_NET},
                   {"type": "MX", "data": [10, "mx." + d]}]
        if d in DOMAINS:
            zone["_dmarc." + d] = [{"type": "TXT", "data": DOMAINS[d]}]
        for sel, alg in (("s1", "rsa"), ("e1", "ed25519")):
            kd = os.path.join(keydir, "tmp")
            os.makedirs(kd, exist_ok=True)
            rec = keygen(a.keygen, d, sel, alg, kd)
            os.rename(os.path.join(kd, sel + ".key"),
                      os.path.join(keydir, "%s-%s.key" % (d, sel)))
            zone["%s._domainkey.%s" % (sel, d)] = [{"type": "TXT",
                                                    "data": rec}]
    # Senders whose DNS server never answers: every name below
    # dead.example.org goes unanswered (the silent corpus, below).
    zone["*." + DEAD] = "TIMEOUT"
    zone[DEAD] = "TIMEOUT"
    with open(os.path.join(out, "zone.json"), "w") as f:
        json.dump(zone, f, indent=1)

    # One signing config per (domain, kind) for authmilter-check sign.
    confs = {}
    for d in DOMAINS:
        for kind, keys, canon in (
                ("rsa-relaxed", [("r", "s1", "rsa-sha256")], "relaxed/relaxed"),
                ("broken", [("r", "s1", "rsa-sha256")], "relaxed/relaxed"),
                ("ed25519", [("e", "e1", "ed25519-sha256")], "relaxed/relaxed"),
                ("dual", [("r", "s1", "rsa-sha256"),
                          ("e", "e1", "ed25519-sha256")], "relaxed/relaxed")):
            p = os.path.join(out, "conf", "%s-%s.conf" % (d, kind))
            sign_conf(p, keydir, d, keys, canon)
            confs[(d, kind)] = p

    mix = {}
    with open(os.path.join(out, "index"), "w") as idx:
        for i in range(a.count):
            kind = pick(rng, KINDS)
            size = pick(rng, SIZES)
            d = rng.choice(list(DOMAINS))
            mail_from = "%s@%s" % (rng.choice(["alice", "bob", "carol"]), d)
            if kind == "spoofed":
                d = "bank.example.com"
                mail_from = "mallory@shop.example.net"
            hdr = ("From: Sender %d <%s>\r\n"
                   "To: Postmaster <postmaster@mx.bench.test>\r\n"
                   "Subject: %s %s %d\r\n"
                   "Date: Sun, 22 Nov 2026 08:%02d:%02d +0000\r\n"
                   "Message-ID: <bench-%d@%s>\r\n"
                   "MIME-Version: 1.0\r\n"
                   "Content-Type: text/plain; charset=us-ascii\r\n"
                   % (i, mail_from if kind != "spoofed" else "ceo@" + d,
                      rng.choice(WORDS), rng.choice(WORDS), i,
                      i // 60 % 60, i % 60, i, d))
            msg = (hdr + "\r\n" + body(rng, size)).encode()
            if kind in ("rsa-relaxed", "broken", "ed25519", "dual"):
                msg = subprocess.run(
                    [a.check, "sign", "-c", confs[(d, kind)]], input=msg,
                    check=True, capture_output=True).stdout
                if kind == "broken":
                    msg = msg.replace(b"\r\n\r\n", b"\r\n\r\nFWD: ", 1)
            elif kind == "rsa-simple":
                with open(os.path.join(keydir, d + "-s1.key"), "rb") as f:
                    key = f.read()
                sig = dkim.sign(msg, b"s1", d.encode(), key,
                                canonicalize=(b"simple", b"simple"),
                                include_headers=[b"from", b"to", b"subject",
                                                 b"date", b"message-id"])
                msg = sig + msg
            name = "msg/%04d.eml" % i
            with open(os.path.join(out, name), "wb") as f:
                f.write(msg)
            idx.write("%s\t%s\n" % (mail_from, name))
            mix[kind] = mix.get(kind, 0) + 1
            mix["%d bytes" % size] = mix.get("%d bytes" % size, 0) + 1
    # The silent corpus: each message from a domain of its own below
    # DEAD (so no resolver cache helps), unsigned.
    os.makedirs(os.path.join(out, "silent"), exist_ok=True)
    with open(os.path.join(out, "silent-index"), "w") as idx:
        for i in range(a.count):
            d = "s%04d.%s" % (i, DEAD)
            msg = ("From: <bounce@%s>\r\nTo: <postmaster@mx.bench.test>\r\n"
                   "Subject: silent %d\r\nMessage-ID: <silent-%d@%s>\r\n"
                   "\r\n%s" % (d, i, i, d, body(rng, 2000))).encode()
            name = "silent/%04d.eml" % i
            with open(os.path.join(out, name), "wb") as f:
                f.write(msg)
            idx.write("bounce@%s\t%s\n" % (d, name))
    with open(os.path.join(out, "mix.txt"), "w") as f:
        for k in sorted(mix):
            f.write("%s: %d\n" % (k, mix[k]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
