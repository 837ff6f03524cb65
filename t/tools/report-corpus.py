#!/usr/bin/python3
"""Report mails for authmilter-report ingest's tests, written into DIR.

    report-corpus.py corpus DIR        the test corpus (below)
    report-corpus.py bench DIR N ROWS  N gzip report mails of ROWS records
    report-corpus.py seeds DIR         small seeds for t/fuzz/corpus/ingest

Deterministic: the same files every run. The corpus, by file name (the
test asserts what each gives):
  01-a1-9990-gz.eml      Receiver A, a-1, example.com, RFC 9990, gzip
                         (application/gzip, base64): 3 records 5+1+2
  02-b1-7489-zip.eml     Receiver B, b-1, example.com, RFC 7489, zip
                         (application/zip): 2 records 7+3, helo+mfrom SPF
  03-c1-9990-xml.eml     Receiver C, c-1, example.net, text/xml, quoted-
                         printable: 1 record 4
  04-a2-overlap.eml      Receiver A, a-2, example.com, a period that
                         overlaps a-1's, octet-stream named .xml.gz: 2
                         records 10+20
  05-d1-whole-body.eml   Receiver D, d-1, example.com, the whole body is
                         the gzip (not multipart): 1 record 9
  06-e1-x-zip.eml        Receiver E, e-1, example.org, application/
                         x-zip-compressed, base64: 1 record 6
  07-a1-duplicate.eml    a-1 again (another Message-ID): a duplicate
  08-malformed.eml       gzip of a report without report_id: quarantined
  09-gzip-bomb.eml       80 MiB of blanks in a gzip: quarantined
  10-zip-bomb.eml        80 MiB in a zip: quarantined
  11-garbage.eml         random bytes with NULs: no report
  12-not-a-report.eml    a plain text mail: no report
  13-nul-in-xml.eml      a NUL inside org_name (gzip): quarantined
  14-nul-in-header.eml   a NUL in a header field, then a valid report
                         (Receiver F, f-1, example.com, 1 record 1)
"""
import base64
import gzip
import io
import random
import sys
import zipfile

NS = "urn:ietf:params:xml:ns:dmarc-2.0"


def record(ip, count, disp="none", dkim="fail", spf="fail", hfrom="example.com",
           spfs=(("example.com", None, "pass"),), dkims=(("example.com", "s1", "pass"),)):
    auth = "".join(
        "<dkim><domain>%s</domain><selector>%s</selector><result>%s</result></dkim>"
        % d for d in dkims)
    for dom, scope, res in spfs:
        sc = "<scope>%s</scope>" % scope if scope else ""
        auth += "<spf><domain>%s</domain>%s<result>%s</result></spf>" % (dom, sc, res)
    return ("<record><row><source_ip>%s</source_ip><count>%d</count>"
            "<policy_evaluated><disposition>%s</disposition><dkim>%s</dkim>"
            "<spf>%s</spf></policy_evaluated></row><identifiers>"
            "<header_from>%s</header_from></identifiers><auth_results>%s"
            "</auth_results></record>\n" % (ip, count, disp, dkim, spf, hfrom, auth))


def report(org, rid, domain, begin, end, records, ns=True, pct=False, org_raw=None):
    pol = "<domain>%s</domain><p>reject</p><sp>none</sp>" % domain
    if pct:
        pol += "<pct>100</pct>"
    else:
        pol += "<np>reject</np><testing>n</testing><discovery_method>treewalk</discovery_method>"
    x = ('<?xml version="1.0" encoding="UTF-8"?>\n<feedback%s>\n'
         % (' xmlns="%s"' % NS if ns else ""))
    if ns:
        x += "<version>1.0</version>"
    x += ("<report_metadata><org_name>%s</org_name><email>noreply@%s</email>"
          "%s<date_range><begin>%d</begin><end>%d</end></date_range>"
          "</report_metadata>\n<policy_published>%s</policy_published>\n"
          % (org_raw if org_raw is not None else org, org.replace(" ", "").lower() + ".example",
             "<report_id>%s</report_id>" % rid if rid else "", begin, end, pol))
    return (x + "".join(records) + "</feedback>\n").encode()


def gz(b):
    return gzip.compress(b, 9, mtime=0)


def zipped(b, name="report.xml"):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo(name, (2026, 1, 2, 0, 0, 0)), b,
                   compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def b64(b):
    s = base64.b64encode(b).decode()
    return "\r\n".join(s[i:i + 76] for i in range(0, len(s), 76)) + "\r\n"


def qp(b):
    import quopri
    return quopri.encodestring(b).decode().replace("\n", "\r\n")


def mail(msgid, part_type, cte, payload, name=None, multipart=True, extra_hdr=""):
    hdr = ("From: noreply@reporter.example\r\nTo: dmarc@example.com\r\n"
           "Subject: Report Domain: example.com Submitter: reporter.example "
           "Report-ID: %s\r\nDate: Sat, 03 Jan 2026 07:00:00 +0000\r\n"
           "Message-ID: <%s@reporter.example>\r\n%sMIME-Version: 1.0\r\n"
           % (msgid, msgid, extra_hdr))
    body = b64(payload) if cte == "base64" else (
        qp(payload) if cte == "quoted-printable" else payload.decode())
    ctype = part_type + ('; name="%s"' % name if name else "")
    if not multipart:
        return (hdr + "Content-Type: %s\r\nContent-Transfer-Encoding: %s\r\n\r\n%s"
                % (ctype, cte, body)).encode()
    return (hdr + 'Content-Type: multipart/mixed; boundary="=_part"\r\n\r\n'
            "This is a multi-part message.\r\n--=_part\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            "This is a DMARC aggregate report.\r\n--=_part\r\n"
            "Content-Type: %s\r\nContent-Transfer-Encoding: %s\r\n"
            'Content-Disposition: attachment%s\r\n\r\n%s\r\n--=_part--\r\n'
            % (ctype, cte, '; filename="%s"' % name if name else "", body)).encode()


DAY = 86400
D0 = 1767225600  # 2026-01-01T00:00:00Z


def corpus(d):
    a1 = report("Receiver A", "a-1", "example.com", D0, D0 + DAY - 1, [
        record("192.0.2.1", 5, "none", "pass", "pass"),
        record("192.0.2.2", 1, "reject", "fail", "fail"),
        record("2001:db8::3", 2, "quarantine", "fail", "pass")])
    files = {}
    files["01-a1-9990-gz.eml"] = mail("a1", "application/gzip", "base64", gz(a1),
                                      "reporter.example!example.com!%d!%d!a-1.xml.gz" % (D0, D0 + DAY - 1))
    b1 = report("Receiver B", "b-1", "example.com", D0, D0 + DAY - 1, [
        record("198.51.100.7", 7, spfs=(("helo.b.example", "helo", "pass"),
                                        ("bounce.b.example", "mfrom", "softfail"))),
        record("198.51.100.8", 3, spfs=(("helo.b.example", "helo", "none"),))],
        ns=False, pct=True)
    files["02-b1-7489-zip.eml"] = mail("b1", "application/zip", "base64", zipped(b1), "b-1.zip")
    c1 = report("Receiver C", "c-1", "example.net", D0, D0 + DAY - 1,
                [record("203.0.113.4", 4, hfrom="example.net")])
    files["03-c1-9990-xml.eml"] = mail("c1", "text/xml", "quoted-printable", c1)
    a2 = report("Receiver A", "a-2", "example.com", D0 + DAY // 2, D0 + DAY + DAY // 2 - 1, [
        record("192.0.2.1", 10), record("192.0.2.9", 20)])
    files["04-a2-overlap.eml"] = mail("a2", "application/octet-stream", "base64", gz(a2), "a-2.xml.gz")
    d1 = report("Receiver D", "d-1", "example.com", D0 + DAY, D0 + 2 * DAY - 1,
                [record("192.0.2.4", 9)])
    files["05-d1-whole-body.eml"] = mail("d1", "application/gzip", "base64", gz(d1), multipart=False)
    e1 = report("Receiver E", "e-1", "example.org", D0, D0 + DAY - 1,
                [record("192.0.2.5", 6, hfrom="example.org")])
    files["06-e1-x-zip.eml"] = mail("e1", "application/x-zip-compressed", "base64", zipped(e1, "e-1.xml"))
    files["07-a1-duplicate.eml"] = mail("a1-again", "application/gzip", "base64", gz(a1), "a-1.xml.gz")
    bad = report("Receiver X", None, "example.com", D0, D0 + DAY - 1, [record("192.0.2.6", 1)])
    files["08-malformed.eml"] = mail("bad", "application/gzip", "base64", gz(bad), "x.xml.gz")
    blanks = b'<?xml version="1.0"?><feedback>' + b" " * (80 << 20)
    files["09-gzip-bomb.eml"] = mail("gzbomb", "application/gzip", "base64", gz(blanks), "bomb.xml.gz")
    files["10-zip-bomb.eml"] = mail("zipbomb", "application/zip", "base64", zipped(blanks), "bomb.zip")
    rnd = random.Random(1)
    files["11-garbage.eml"] = bytes(rnd.randrange(256) for _ in range(4096)) + b"\0\0\0"
    files["12-not-a-report.eml"] = (
        b"From: alice@example.net\r\nTo: dmarc@example.com\r\nSubject: hello\r\n"
        b"\r\nJust a question about your DMARC record.\r\n")
    nul = report("Receiver N", "n-1", "example.com", D0, D0 + DAY - 1,
                 [record("192.0.2.7", 1)], org_raw="Recei\0ver N")
    files["13-nul-in-xml.eml"] = mail("nul", "application/gzip", "base64", gz(nul), "n-1.xml.gz")
    f1 = report("Receiver F", "f-1", "example.com", D0, D0 + DAY - 1, [record("192.0.2.8", 1)])
    files["14-nul-in-header.eml"] = mail("f1", "application/gzip", "base64", gz(f1), "f-1.xml.gz",
                                         extra_hdr="X-Odd: a\0b\r\n")
    for name, data in files.items():
        with open("%s/%s" % (d, name), "wb") as f:
            f.write(data)


def bench(d, n, rows):
    for k in range(n):
        recs = [record("10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255), 1 + i % 7,
                       hfrom="example.com") for i in range(rows)]
        x = report("Bench Org", "bench-%d" % k, "example.com", D0, D0 + DAY - 1, recs)
        with open("%s/bench-%03d.eml" % (d, k), "wb") as f:
            f.write(mail("bench%d" % k, "application/gzip", "base64", gz(x), "b.xml.gz"))


def seeds(d):
    corpus(d)
    import os
    for big in ("09-gzip-bomb.eml", "10-zip-bomb.eml"):
        os.remove("%s/%s" % (d, big))


if __name__ == "__main__":
    if sys.argv[1] == "corpus":
        corpus(sys.argv[2])
    elif sys.argv[1] == "bench":
        bench(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "seeds":
        seeds(sys.argv[2])
    else:
        sys.exit(__doc__)
