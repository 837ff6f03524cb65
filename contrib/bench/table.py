#!/usr/bin/python3
"""Turns milterbench's RESULT lines into the Markdown table of results.md.

    table.py results.tsv [--peers yes|no] [--secs N] > results.md

Labels are FILTER/TRANSPORT/C (FILTER/big for the big-body test). The
targets of issue 7 are checked against the same run and marked met or
missed, with the margin.
"""
import argparse
import sys

NAMES = {
    "null": "null filter (libmilter, continue/accept; adds 1 header)",
    "am-in": "authmilter inbound (SPF+DKIM+DMARC+A-R)",
    "am-rec": "authmilter inbound, recording for reports (SQLite)",
    "odk-v": "OpenDKIM verify",
    "chain": "OpenDKIM -> OpenDMARC (SPF self-check)",
    "am-sign": "authmilter signing (rsa-2048)",
    "odk-s": "OpenDKIM signing (rsa-2048)",
}
ORDER = ["null", "am-in", "am-rec", "odk-v", "chain", "am-sign", "odk-s"]
CHECKS = {"am-in": "dkim=pass/dmarc=pass/spf=pass",
          "am-rec": "dkim=pass/dmarc=pass/spf=pass",
          "chain": "dkim=pass/dmarc=pass/spf=pass",
          "odk-v": "dkim=pass", "am-sign": "signed", "odk-s": "signed"}


def parse(path):
    rows = {}
    with open(path) as f:
        for line in f:
            if not line.startswith("RESULT "):
                continue
            kv = dict(p.split("=", 1) for p in line.split()[1:] if "=" in p)
            rows[kv["label"]] = kv
    return rows


def f(kv, k):
    try:
        return float(kv[k])
    except (KeyError, ValueError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tsv")
    ap.add_argument("--peers", default="yes")
    ap.add_argument("--secs", default="?")
    a = ap.parse_args()
    rows = parse(a.tsv)
    out = []
    w = out.append
    concs = sorted({int(k.split("/")[2]) for k in rows
                    if k.count("/") == 2 and k.split("/")[1] != "perf"})
    w("# make bench: results\n")
    w("Whole run: %s s. msg/s: messages per second over the measured "
      "phase; latency: connect to the final end-of-message reply (ms); "
      "EOM: SMFIC_BODYEOB to the reply (ms); CPU: the filter processes' "
      "user+system CPU per message (ms); RSS: VmHWM, the peak since the "
      "filter started (MB); checks: messages whose added header fields "
      "say so, of all.\n" % a.secs)
    if a.peers != "yes":
        w("**Peers not run** (see the log): only authmilter and the null "
          "filter.\n")
    for tr in ("unix", "tcp"):
        w("\n## %s socket\n" % tr)
        w("| filter | C | msg/s | p50 | p90 | p99 | EOM p99 | CPU ms/msg "
          "| RSS MB | gen CPU | replies | checks |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
        for name in ORDER:
            for c in concs:
                kv = rows.get("%s/%s/%d" % (name, tr, c))
                if kv is None:
                    continue
                n = kv.get("msgs", "0")
                checks = "/".join(kv.get(m, "") for m in ("m1", "m2", "m3")
                                  if m in kv)
                w("| %s | %d | %.0f | %.2f | %.2f | %.2f | %.2f | %.3f | "
                  "%.1f | %.3f | %s | %s |" % (
                      NAMES[name], c, f(kv, "rate"), f(kv, "p50"),
                      f(kv, "p90"), f(kv, "p99"), f(kv, "eom_p99"),
                      f(kv, "cpu_ms"), f(kv, "hwm_kb") / 1024, f(kv, "gen_cpu_ms") or 0,
                      kv.get("replies", ""),
                      ("%s of %s (%s)" % (checks, n, CHECKS[name]))
                      if name in CHECKS else ""))
        w("\n**Ratios (msg/s), %s:**\n" % tr)
        w("| C | authmilter in / OpenDKIM verify | authmilter in / "
          "OpenDKIM->OpenDMARC | authmilter sign / OpenDKIM sign | "
          "authmilter in / null filter |")
        w("|---:|---:|---:|---:|---:|")
        for c in concs:
            def r(x, y):
                a_ = rows.get("%s/%s/%d" % (x, tr, c))
                b_ = rows.get("%s/%s/%d" % (y, tr, c))
                if a_ is None or b_ is None or not f(b_, "rate"):
                    return "-"
                return "%.2fx" % (f(a_, "rate") / f(b_, "rate"))
            w("| %d | %s | %s | %s | %s |" % (
                c, r("am-in", "odk-v"), r("am-in", "chain"),
                r("am-sign", "odk-s"), r("am-in", "null")))

    big = [k for k in rows if k.endswith("/big")]
    if big:
        w("\n## One 50 MB body (unix socket)\n")
        w("| filter | seconds | verdict | VmRSS before | max during | "
          "growth |")
        w("|---|---:|---|---:|---:|---:|")
        for name in ORDER:
            kv = rows.get(name + "/big")
            if kv:
                w("| %s | %.2f | %s | %.1f MB | %.1f MB | %.0f kB |" % (
                    NAMES[name], f(kv, "secs"), kv["verdict"],
                    f(kv, "rss_before_kb") / 1024,
                    f(kv, "rss_max_kb") / 1024, f(kv, "growth_kb")))

    base, mixed = rows.get("am-silent/base/9"), rows.get("am-silent/mixed/9")
    dead = rows.get("am-silent/dead/1")
    if base and mixed:
        w("\n## One sender in ten behind a DNS server that never answers "
          "(unix)\n")
        w("authmilter inbound serving 9 connections of the normal corpus, "
          "alone and then beside 1 connection whose senders' lookups all "
          "go unanswered (each its own domain, through the same "
          "forwarder). The normal senders' numbers:\n")
        w("| load | msg/s | p50 | p90 | p99 | max | replies | dmarc=pass |")
        w("|---|---:|---:|---:|---:|---:|---|---|")
        for name, kv in (("9 normal alone", base),
                         ("9 normal + 1 silent", mixed)):
            w("| %s | %.0f | %.2f | %.2f | %.2f | %.2f | %s | %s of %s |" % (
                name, f(kv, "rate"), f(kv, "p50"), f(kv, "p90"),
                f(kv, "p99"), f(kv, "max"), kv.get("replies", ""),
                kv.get("m1", ""), kv.get("msgs", "")))
        if dead:
            w("\nThe silent sender: %s messages, p50 %.0f ms, replies %s." % (
                dead.get("msgs", "?"), f(dead, "p50") or 0,
                dead.get("replies", "")))

    w("\n## Targets (issue 7)\n")
    w("| target | measured | verdict |")
    w("|---|---|---|")

    def get(label, key):
        kv = rows.get(label)
        return f(kv, key) if kv else None

    def ratio_t(desc, x, y, want):
        a_, b_ = get(x, "rate"), get(y, "rate")
        if a_ is None or b_ is None:
            w("| %s | not measured | - |" % desc)
            return
        got = a_ / b_
        verdict = "met" if got >= want else \
            "**missed** (%.0f%% short)" % (100 * (1 - got / want))
        w("| %s | %.2fx (%.0f vs %.0f msg/s) | %s |" %
          (desc, got, a_, b_, verdict))

    def max_t(desc, label, key, limit, unit, scale=1.0):
        v = get(label, key)
        if v is None:
            w("| %s | not measured | - |" % desc)
            return
        v *= scale
        verdict = "met" if v < limit else \
            "**missed** (%.2f %s over)" % (v - limit, unit)
        w("| %s | %.2f %s | %s |" % (desc, v, unit, verdict))

    ratio_t("inbound, unix, C=8: >= 2.5x OpenDKIM->OpenDMARC",
            "am-in/unix/8", "chain/unix/8", 2.5)
    ratio_t("recording on, unix, C=8: >= 0.9x recording off",
            "am-rec/unix/8", "am-in/unix/8", 0.9)
    ratio_t("inbound, unix, C=8: >= 2x OpenDKIM verify",
            "am-in/unix/8", "odk-v/unix/8", 2.0)
    max_t("inbound, unix, C=8: CPU <= 0.6 ms/msg", "am-in/unix/8",
          "cpu_ms", 0.6 + 1e-9, "ms")
    ratio_t("signing rsa-2048, unix, C=8: >= 2x OpenDKIM signing",
            "am-sign/unix/8", "odk-s/unix/8", 2.0)
    ratio_t("signing rsa-2048, tcp, C=8: >= 2x OpenDKIM signing",
            "am-sign/tcp/8", "odk-s/tcp/8", 2.0)
    max_t("TCP, C=1: latency p50 < 2 ms (no Nagle stall)", "am-in/tcp/1",
          "p50", 2.0, "ms")
    max_t("unix, C=1: end-of-message latency p99 < 2 ms", "am-in/unix/1",
          "eom_p99", 2.0, "ms")
    max_t("unix, C=1: whole-transaction latency p99 < 2 ms (stricter "
          "reading)", "am-in/unix/1", "p99", 2.0, "ms")
    max_t("peak RSS at C=64 < 20 MB (VmHWM after C=1, 8, 64)",
          "am-in/unix/64", "hwm_kb", 20.0, "MB", 1 / 1024)
    max_t("50 MB body: RSS growth <= 1 MB", "am-in/big", "growth_kb",
          1.0 + 1e-9, "MB", 1 / 1024)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
