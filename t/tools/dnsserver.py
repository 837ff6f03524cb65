#!/usr/bin/python3
"""A loopback authoritative DNS server for the tests (Debian's python3-dnslib).

    dnsserver.py --zone ZONE.json --port-file F [--log F] [--addr 127.0.0.1]

Binds UDP and TCP on one free port of --addr, writes the port number to
--port-file once it is ready, and serves ZONE.json until SIGTERM. SIGHUP
reloads the zone file. --log appends one line per query: "name TYPE".

ZONE.json maps a name (case-insensitive, no trailing dot) to a list of
entries:
    {"type": "TXT", "data": ["v=spf1 ", "-all"]}   one record, its strings
    {"type": "TXT", "data": "one string"}   (a string over 255 octets is
                                             split into 255-octet strings)
    {"type": "A", "data": "192.0.2.1"}      {"type": "AAAA", "data": "::1"}
    {"type": "MX", "data": [10, "mx.example.com"]}
    {"type": "PTR", "data": "host.example.com"}
    {"type": "CNAME", "data": "other.example.com"}
    any entry may have "ttl": SECONDS (default 300)
    "TIMEOUT"    every query for the name goes unanswered
    "SERVFAIL"   every query for the name is answered SERVFAIL
    "REFUSED"    every query for the name is answered REFUSED
    "DELAY S"    every UDP answer for the name is sent S seconds late (a
                 slow server: answers that come just before a deadline)
A name "*.SUFFIX" stands for every name below SUFFIX that has no entry of
its own (one level of wildcard, for macro-made unique names).
A name with no entry of the asked type is NODATA when it or a name below
it is in the zone, else NXDOMAIN. Negative answers carry an SOA so that
resolvers cache them as the RFCs say.
"""
import argparse
import json
import os
import select
import signal
import socket
import struct
import sys
import time

from dnslib import (AAAA, CNAME, MX, PTR, QTYPE, RCODE, RR, SOA, TXT, A,
                    DNSRecord, DNSLabel)

TTL = 300
NEG_TTL = 60  # SOA minimum: how long NXDOMAIN and NODATA are cached


def norm(name):
    return str(name).rstrip(".").lower()


class Zone:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
        self.names = {}
        self.exists = {""}  # the root always exists
        for name, entries in raw.items():
            n = norm(name)
            self.names[n] = entries if isinstance(entries, list) else [entries]
            labels = n.split(".")
            for i in range(len(labels)):
                self.exists.add(".".join(labels[i:]))

    def entries(self, n):
        if n in self.names:
            return self.names[n]
        labels = n.split(".")
        for i in range(1, len(labels)):
            w = "*." + ".".join(labels[i:])
            if w in self.names:
                return self.names[w]
        return []

    def special(self, n):
        for e in self.entries(n):
            if isinstance(e, str) and not e.startswith("DELAY "):
                return e
        return None

    def delay(self, n):
        for e in self.entries(n):
            if isinstance(e, str) and e.startswith("DELAY "):
                return float(e.split()[1])
        return 0.0

    def records(self, n, qtype):
        out = []
        for e in self.entries(n):
            if isinstance(e, dict) and e["type"] == qtype:
                out.append(e)
        return out


def rdata(e):
    t, d = e["type"], e["data"]
    if t == "A":
        return A(d)
    if t == "AAAA":
        return AAAA(d)
    if t == "MX":
        return MX(d[1], d[0])
    if t == "PTR":
        return PTR(d)
    if t == "CNAME":
        return CNAME(d)
    if t == "TXT":
        strings = d if isinstance(d, list) else [d]
        out = []
        for s in strings:
            b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
            # A character-string holds at most 255 octets (RFC 1035
            # 3.3): a longer one (a DKIM key) is split, as its zone file
            # would have it. An empty string stays one empty string.
            out.extend([b[i:i + 255] for i in range(0, len(b), 255)] or [b])
        return TXT(out)
    raise ValueError("unknown type " + t)


def soa_for(n):
    # The root (a query for ".") has no last label: "ns..", an empty
    # label, would make dnslib raise and take the server down.
    apex = n.split(".")[-1] + "." if n else ""
    return RR(apex or ".", QTYPE.SOA, ttl=TTL,
              rdata=SOA("ns." + apex, "hostmaster." + apex,
                        (1, 3600, 600, 86400, NEG_TTL)))


def answer(zone, request):
    """Returns the reply DNSRecord, or None for no answer at all."""
    reply = request.reply()
    reply.header.aa = 1
    q = request.q
    qtype = QTYPE[q.qtype]
    n = norm(q.qname)
    for _ in range(16):  # a bounded CNAME chase inside the zone
        sp = zone.special(n)
        if sp == "TIMEOUT":
            return None
        if sp in ("SERVFAIL", "REFUSED"):
            reply.header.rcode = getattr(RCODE, sp)
            return reply
        recs = zone.records(n, qtype)
        if recs:
            for e in recs:
                reply.add_answer(RR(n + ".", q.qtype, ttl=e.get("ttl", TTL),
                                    rdata=rdata(e)))
            return reply
        cn = zone.records(n, "CNAME")
        if cn and qtype != "CNAME":
            target = norm(cn[0]["data"])
            reply.add_answer(RR(n + ".", QTYPE.CNAME, ttl=TTL,
                                rdata=CNAME(target + ".")))
            n = target
            continue
        break
    if n not in zone.exists and not zone.entries(n):
        reply.header.rcode = RCODE.NXDOMAIN
    reply.add_auth(soa_for(n))
    return reply


def main():
    global NEG_TTL
    ap = argparse.ArgumentParser()
    ap.add_argument("--zone", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--negative-ttl", type=int, default=60,
                    help="SOA minimum (tests that publish records later)")
    args = ap.parse_args()
    NEG_TTL = args.negative_ttl

    state = {"zone": Zone(args.zone), "stop": False}

    # Reload in the handler itself: select() is restarted after a signal
    # (PEP 475), so a flag tested in the loop was only seen up to 0.5 s
    # later or after the next query, which was still answered from the old
    # zone (t_dns_reload waits 0.2 s). A bad zone file keeps the old zone.
    def reload(*_):
        try:
            state["zone"] = Zone(args.zone)
        except Exception as e:  # a missing or malformed zone file
            print("dnsserver: reload failed, old zone kept: %s" % e,
                  file=sys.stderr)

    signal.signal(signal.SIGHUP, reload)
    signal.signal(signal.SIGTERM, lambda *_: state.update(stop=True))
    signal.signal(signal.SIGINT, lambda *_: state.update(stop=True))

    fam = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    # The kernel's free UDP port may be taken for TCP (another suite's
    # connection on the same host): take another one, a bounded number of
    # times.
    for attempt in range(20):
        udp = socket.socket(fam, socket.SOCK_DGRAM)
        udp.bind((args.addr, 0))
        port = udp.getsockname()[1]
        tcp = socket.socket(fam, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind((args.addr, port))
            break
        except OSError:
            udp.close()
            tcp.close()
            if attempt == 19:
                raise
    tcp.listen(64)
    logf = open(args.log, "a", encoding="utf-8") if args.log else None

    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("%d\n" % port)
    os.rename(tmp, args.port_file)

    def handle(data, maxlen):
        try:
            req = DNSRecord.parse(data)
        except Exception:  # garbage in: no answer, like a real server
            return None
        if logf:
            logf.write("%s %s\n" % (norm(req.q.qname), QTYPE[req.q.qtype]))
            logf.flush()
        try:
            rep = answer(state["zone"], req)
            if rep is None:
                return None
            out = rep.pack()
        except Exception as e:  # a zone entry dnslib cannot encode
            print("dnsserver: %s %s: %r" % (norm(req.q.qname),
                  QTYPE[req.q.qtype], e), file=sys.stderr)
            rep = req.reply()
            rep.header.rcode = RCODE.SERVFAIL
            out = rep.pack()
        if maxlen and len(out) > maxlen:
            rep = rep.truncate()
            out = rep.pack()
        return out

    late = []  # (when, reply, peer) for "DELAY" names, in arrival order
    while not state["stop"]:
        now = time.monotonic()
        while late and late[0][0] <= now:
            _, out, peer = late.pop(0)
            udp.sendto(out, peer)
        wait = 0.5 if not late else max(0.0, min(0.5, late[0][0] - now))
        try:
            r, _, _ = select.select([udp, tcp], [], [], wait)
        except InterruptedError:
            continue
        if udp in r:
            data, peer = udp.recvfrom(65535)
            maxlen = 512
            try:
                req = DNSRecord.parse(data)
                for rr in req.ar:
                    if rr.rtype == QTYPE.OPT:
                        maxlen = max(512, rr.rclass)
            except Exception:
                pass
            out = handle(data, maxlen)
            d = 0.0
            try:
                d = state["zone"].delay(norm(DNSRecord.parse(data).q.qname))
            except Exception:
                pass
            if out is not None and d > 0:
                late.append((time.monotonic() + d, out, peer))
                late.sort(key=lambda x: x[0])
            elif out is not None:
                udp.sendto(out, peer)
        if tcp in r:
            conn, _ = tcp.accept()
            conn.settimeout(2.0)
            try:
                hdr = conn.recv(2)
                if len(hdr) == 2:
                    (ln,) = struct.unpack("!H", hdr)
                    data = b""
                    while len(data) < ln:
                        chunk = conn.recv(ln - len(data))
                        if not chunk:
                            break
                        data += chunk
                    out = handle(data, 0)
                    if out is not None:
                        conn.sendall(struct.pack("!H", len(out)) + out)
            except OSError:
                pass
            finally:
                conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
