#!/usr/bin/python3
"""DKIM interop, the dkimpy side (Debian's python3-dkim) and the harness's
message tools. Run with /usr/bin/python3; t/conformance/dkim-interop.sh
drives it.

    dkim_interop.py crlf IN OUT
        Copies a message with every line end made CRLF (SMTP form); a
        missing final line end stays missing.
    dkim_interop.py zone OUT KEYGEN.out...
        Writes a dnsserver.py zone from authmilter-keygen outputs: each TXT
        record as printed, its quoted strings kept apart (checked <= 255).
    dkim_interop.py tamper-batch < SPECS
        Lines "KIND<TAB>IN<TAB>OUT", KIND body (changes one letter of the
        body), header (changes the Subject) or from (adds a second From
        above the first).
    dkim_interop.py sign-batch < SPECS
        Lines "IN<TAB>OUT<TAB>SIG[,SIG...]", SIG = ALG:SELECTOR:DOMAIN:KEY:
        HCANON/BCANON. Each SIG is added on top, in order. From is
        oversigned (listed twice in h=).
    dkim_interop.py verify-batch --port PORT < CASES
    dkim_interop.py ar-batch < CASES
        Lines "NAME<TAB>FILE<TAB>EXPECT" (ar-batch: "NAME<TAB>MSG<TAB>
        OUTPUT<TAB>EXPECT"): EXPECT is one word per DKIM-Signature field,
        top to bottom: pass, fail or * (not checked). verify-batch verifies
        with dkimpy, resolving through dnspython pointed at the loopback
        server; ar-batch reads the Authentication-Results field that
        authmilter-check printed, which must have exited 0 (OUTPUT.rc;
        its stderr in OUTPUT without ".ar", plus ".err"). One line per case:
        "ok<TAB>NAME" or "FAIL<TAB>NAME<TAB>why".
"""
import base64
import logging
import os
import re
import sys
import types
import warnings

SIGNED = [b"from", b"from", b"to", b"cc", b"subject", b"date",
          b"message-id", b"reply-to", b"mime-version", b"content-type",
          b"content-transfer-encoding"]
# RFC 8410 7: the PKCS#8 DER of an Ed25519 private key is this prefix and
# the 32-octet seed.
ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def crlf(data):
    return re.sub(rb"\r?\n", b"\r\n", data)


def split_message(msg):
    """(header block incl. its final CRLF, separator + body)."""
    i = msg.find(b"\r\n\r\n")
    if i < 0:
        return msg, b""
    return msg[:i + 2], msg[i + 2:]


def header_fields(msg):
    """The header fields, unfolded-in-place: list of (name, raw bytes)."""
    head, _ = split_message(msg)
    fields = []
    for line in re.split(rb"(?<=\r\n)", head):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + line)
        else:
            fields.append((line.split(b":", 1)[0].strip().lower(), line))
    return fields


def sig_tags(raw):
    """Tags of one DKIM-Signature field (raw bytes), FWS removed in b=."""
    value = raw.split(b":", 1)[1]
    tags = {}
    for part in value.split(b";"):
        if b"=" not in part:
            continue
        k, v = part.split(b"=", 1)
        k = k.strip().decode("ascii", "replace")
        v = re.sub(rb"[\r\n\t ]", b"", v) if k in ("b", "bh") else v.strip()
        tags[k] = v.decode("ascii", "replace")
    return tags


def signatures(msg):
    return [sig_tags(raw) for name, raw in header_fields(msg)
            if name == b"dkim-signature"]


# --- zone ---

def cmd_zone(out, outputs):
    import json
    zone = {}
    for path in outputs:
        text = read(path).decode("ascii")
        m = re.search(r"^(\S+)\. IN TXT \((.*?) \)$", text, re.M | re.S)
        if not m:
            sys.exit("%s: no TXT record" % path)
        strings = re.findall(r'"([^"]*)"', m.group(2))
        if not strings or any(len(s) > 255 for s in strings):
            sys.exit("%s: bad TXT strings" % path)
        zone.setdefault(m.group(1), []).append(
            {"type": "TXT", "data": strings})
    with open(out, "w", encoding="utf-8") as f:
        json.dump(zone, f, indent=1)


# --- tamper ---

def cmd_tamper(kind, src, dst):
    try:
        msg = read(src)
    except OSError:
        return  # the signer failed; the verifiers report the missing file
    head, body = split_message(msg)
    if kind == "body":
        m = re.search(rb"[A-Za-z]", body)
        if not m:
            sys.exit("tamper body: no letter in the body")
        i = m.start()
        new = b"y" if body[i:i + 1] == b"x" else b"x"
        out = head + body[:i] + new + body[i + 1:]
    elif kind == "header":
        out, n = re.subn(rb"(?mi)^(Subject:[ \t]*)", rb"\1Re: ", head, 1)
        if n != 1:
            sys.exit("tamper header: no Subject")
        out += body
    elif kind == "from":
        out, n = re.subn(rb"(?mi)^(From:)",
                         b"From: Mallory <mallory@evil.test>\r\n\\1",
                         head, 1)
        if n != 1:
            sys.exit("tamper from: no From")
        out += body
    else:
        sys.exit("tamper: unknown kind " + kind)
    if out == msg:
        sys.exit("tamper: nothing changed")
    write(dst, out)


# --- dkimpy signing ---

def load_key(alg, path):
    pem = read(path)
    if alg == "rsa-sha256":
        return pem
    der = base64.b64decode(b"".join(
        line for line in pem.splitlines() if not line.startswith(b"-----")))
    if len(der) != 48 or not der.startswith(ED25519_PKCS8_PREFIX):
        raise ValueError("%s: not a PKCS#8 Ed25519 key" % path)
    return base64.b64encode(der[16:])


def cmd_sign_batch():
    import dkim
    bad = 0
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        src, dst, specs = line.split("\t")
        try:
            msg = read(src)
            for spec in specs.split(","):
                alg, sel, dom, key, canon = spec.split(":")
                hc, bc = canon.split("/")
                sig = dkim.sign(msg, sel.encode(), dom.encode(),
                                load_key(alg, key),
                                canonicalize=(hc.encode(), bc.encode()),
                                signature_algorithm=alg.encode(),
                                include_headers=SIGNED)
                if not sig.startswith(b"DKIM-Signature:"):
                    raise ValueError("dkimpy returned no signature")
                msg = sig + msg
            write(dst, msg)
        except Exception as e:  # reported; the verifiers then FAIL
            bad += 1
            print("dkimpy sign %s: %r" % (dst, e), file=sys.stderr)
    return 1 if bad else 0


# --- dkimpy verification ---

class Capture(logging.Handler):
    """dkimpy logs key and DNS trouble at ERROR and returns False, as for a
    bad signature: keep them apart so that a lookup failure never passes
    for the expected "fail"."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records = []

    def emit(self, record):
        self.records.append(record.getMessage())


def check(name, got, expect):
    want = expect.split()
    if len(got) != len(want):
        return "FAIL\t%s\t%d signatures, expected %d: %s" % (
            name, len(got), len(want), " ".join(got))
    for g, w in zip(got, want):
        if w != "*" and g != w:
            return "FAIL\t%s\tgot %s, want %s" % (name, " ".join(got), expect)
    return "ok\t%s" % name


def cmd_verify_batch(port):
    warnings.simplefilter("ignore")
    import dns.resolver
    import dkim
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = port
    res.lifetime = 5.0
    # dkimpy's own lookup (dkim.dnsplug, through dnspython's default
    # resolver) asks the loopback server: the real DNS path.
    dns.resolver.default_resolver = res
    log = logging.getLogger("dkim-interop")
    log.propagate = False
    # DKIM_NOW: the clock dkimpy checks t= and x= against, for messages
    # signed at a fixed time (authmilter-report send --now).
    if os.environ.get("DKIM_NOW"):
        fixed = float(os.environ["DKIM_NOW"])
        dkim.time = types.SimpleNamespace(time=lambda: fixed)
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        name, path, expect = line.split("\t")
        try:
            msg = read(path)
        except OSError as e:
            print("FAIL\t%s\tno message: %s" % (name, e.strerror))
            continue
        got = []
        for idx in range(len(signatures(msg))):
            cap = Capture()
            log.handlers = [cap]
            try:
                d = dkim.DKIM(msg, logger=log)
                ok = d.verify(idx=idx)
            except dkim.ValidationError as e:
                # dkimpy raises, rather than returns False, on a body hash
                # mismatch.
                if str(e).startswith("body hash mismatch"):
                    got.append("fail")
                else:
                    got.append("error(%s)" % str(e).replace(" ", "_"))
                continue
            except Exception as e:
                got.append("error(%s:%s)" % (type(e).__name__,
                                             str(e).replace(" ", "_")))
                continue
            if cap.records:
                got.append("error(%s)" % cap.records[0].replace(" ", "_"))
            else:
                got.append("pass" if ok else "fail")
        print(check(name, got, expect))
        sys.stdout.flush()
    return 0


# --- authmilter-check's Authentication-Results ---

def strip_comments(s):
    """RFC 5322 CFWS comments out, quoted strings kept; nesting counted."""
    out, depth, quoted, esc = [], 0, False, False
    for ch in s:
        if esc:
            esc = False
            if depth == 0:
                out.append(ch)
            continue
        if ch == "\\":
            esc = True
            if depth == 0:
                out.append(ch)
            continue
        if quoted:
            quoted = ch != '"'
            out.append(ch)
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth > 0:
            depth -= 1
        elif depth == 0:
            quoted = ch == '"'
            out.append(ch)
    return "".join(out)


def split_outside_quotes(s, sep):
    parts, cur, quoted, esc = [], [], False, False
    for ch in s:
        if esc:
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def unquote(v):
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return re.sub(r"\\(.)", r"\1", v[1:-1])
    return v


def ar_results(text):
    """The dkim results of the one Authentication-Results field in text:
    list of dicts (result, header.d, header.s, header.b, ...)."""
    lines = text.split("\n")
    field = None
    for i, line in enumerate(lines):
        if line.lower().startswith("authentication-results:"):
            field = line
            for cont in lines[i + 1:]:
                if cont[:1] in (" ", "\t"):
                    field += cont
                else:
                    break
            break
    if field is None:
        return None
    value = strip_comments(field.split(":", 1)[1])
    out = []
    for resinfo in split_outside_quotes(value, ";")[1:]:
        toks = re.findall(r'[^\s="]+\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^\s;]+)',
                          resinfo)
        if not toks:
            continue
        method, result = [x.strip() for x in toks[0].split("=", 1)]
        if method.split("/")[0].lower() != "dkim":
            continue
        r = {"result": result.lower()}
        for t in toks[1:]:
            k, v = [x.strip() for x in t.split("=", 1)]
            r[k.lower()] = unquote(v)
        out.append(r)
    return out


def cmd_ar_batch():
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        name, msgpath, outpath, expect = line.split("\t")
        try:
            sigs = signatures(read(msgpath))
            text = read(outpath).decode("utf-8", "replace")
        except OSError as e:
            print("FAIL\t%s\t%s: %s" % (name, e.filename, e.strerror))
            continue
        try:
            rc = read(outpath + ".rc").decode().strip()
        except OSError:
            rc = "missing"
        if rc != "0":
            try:
                err = read(outpath[:-3] + ".err").decode("utf-8", "replace")
            except OSError:
                err = ""
            print("FAIL\t%s\tauthmilter-check exit status %s: %s" % (
                name, rc, err.strip().replace("\n", " | ")[:300]))
            continue
        results = ar_results(text)
        if results is None:
            print("FAIL\t%s\tno Authentication-Results in: %s" % (
                name, text.strip().replace("\n", " | ")[:300]))
            continue
        got = []
        for s in sigs:
            # RFC 6008: header.b is a prefix of b= (8 characters at least)
            # that tells the signatures apart.
            match = [r for r in results
                     if len(r.get("header.b", "")) >= 8 and
                     s.get("b", "").startswith(r["header.b"]) and
                     r.get("header.d", "").lower() == s.get("d", "").lower()
                     and r.get("header.s", "").lower() ==
                     s.get("s", "").lower() and
                     r.get("header.a", "").lower() == s.get("a", "").lower()]
            if len(match) != 1:
                got.append("missing" if not match else "ambiguous")
            else:
                got.append(match[0]["result"])
        if len(results) != len(sigs):
            print("FAIL\t%s\t%d dkim results for %d signatures: %s" % (
                name, len(results), len(sigs),
                " ".join(r["result"] for r in results)))
            continue
        r = check(name, got, expect)
        if r.startswith("FAIL"):
            r += " | " + text.strip().replace("\n", " | ")[:400]
        print(r)
    return 0


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "crlf" and len(argv) == 4:
        write(argv[3], crlf(read(argv[2])))
        return 0
    if cmd == "zone" and len(argv) >= 4:
        cmd_zone(argv[2], argv[3:])
        return 0
    if cmd == "tamper-batch" and len(argv) == 2:
        for line in sys.stdin:
            if line.strip():
                cmd_tamper(*line.rstrip("\n").split("\t"))
        return 0
    if cmd == "sign-batch" and len(argv) == 2:
        return cmd_sign_batch()
    if cmd == "verify-batch" and len(argv) == 4 and argv[2] == "--port":
        return cmd_verify_batch(int(argv[3]))
    if cmd == "ar-batch" and len(argv) == 2:
        return cmd_ar_batch()
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
