#!/usr/bin/python3
"""Verify every DKIM-Signature of a message with dkimpy.

usage: dkimverify.py DNS-PORT MESSAGE-FILE

dkimpy's key lookups go through dnspython to the loopback DNS server on
127.0.0.1:DNS-PORT, the one the test's authmilter uses. Prints one line
per signature, in field order: "d=DOMAIN s=SELECTOR a=ALGORITHM RESULT"
where RESULT is pass, fail or error(...); exits 0 when there is at least
one signature and all of them pass.
"""
import logging
import re
import sys
import warnings


def main():
    warnings.simplefilter("ignore")
    import dkim
    import dns.resolver

    port = int(sys.argv[1])
    with open(sys.argv[2], "rb") as f:
        msg = f.read()
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = port
    res.lifetime = 5.0
    dns.resolver.default_resolver = res
    log = logging.getLogger("dkimverify")
    log.addHandler(logging.NullHandler())
    log.propagate = False

    # The header block, unfolded, to name each signature.
    head = msg.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    head = re.sub(rb"\n[ \t]", b" ", head)
    sigs = [h for h in head.split(b"\n")
            if h.lower().startswith(b"dkim-signature:")]
    ok = len(sigs) > 0
    for idx, sig in enumerate(sigs):
        tags = {}
        for part in sig.split(b":", 1)[1].split(b";"):
            if b"=" in part:
                k, v = part.split(b"=", 1)
                tags[k.strip().decode()] = re.sub(rb"\s+", b"", v).decode()
        try:
            result = "pass" if dkim.DKIM(msg, logger=log).verify(idx=idx) \
                else "fail"
        except Exception as e:  # dkimpy raises on some failures
            result = "error(%s)" % str(e).replace(" ", "_")
        if result != "pass":
            ok = False
        print("d=%s s=%s a=%s %s" % (tags.get("d"), tags.get("s"),
                                     tags.get("a"), result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
