"""Checks the summary page as headless Chromium left it (--dump-dom after
load) against the JSON summary of the same input, and the screenshot's
size. Standard library only.

    rx_html_check.py DOM.html SUMMARY.json SHOT.png WIDTH HEIGHT

Prints one line per failed check and exits 1 when any failed.
"""
import html.parser
import json
import struct
import sys

dom_file, json_file, png_file, width, height = sys.argv[1:6]
j = json.load(open(json_file))
failed = []


def check(ok, what):
    if not ok:
        failed.append(what)
        print("FAILED: " + what)


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.bars = []      # (attrs of <g class=day>, title, [rect attrs])
        self.stack = []
        self.tags = set()
        self.attrs = []
        self.verdict = None
        self.reasons = []
        self.text = []
        self.cur = None     # "title" or "li" while inside one

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        self.attrs.extend(attrs)
        if tag == "g" and a.get("class") == "day":
            self.bars.append([a, "", []])
        elif tag == "rect" and self.bars and "g" in self.stack:
            self.bars[-1][2].append(a)
        elif tag == "title" and "g" in self.stack:
            self.cur = "title"
        elif tag == "section" and a.get("id") == "verdict":
            self.verdict = a
        elif tag == "li":
            self.reasons.append("")
            self.cur = "li"
        if tag not in ("rect", "meta", "line", "br"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in ("title", "li"):
            self.cur = None
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        self.text.append(data)
        if self.cur == "title" and self.bars:
            self.bars[-1][1] += data
        elif self.cur == "li":
            self.reasons[-1] += data


p = Page()
p.feed(open(dom_file, encoding="utf-8").read())

# The chart: one bar per day of the period, with the summary's numbers,
# in its data attributes, its title and its drawn heights.
days = j["days"]
check(len(p.bars) == len(days),
      "bars: %d, days in the JSON: %d" % (len(p.bars), len(days)))
top = max((d["pass"] + d["fail"] for d in days), default=0)
heights = []
for (a, title, rects), d in zip(p.bars, days):
    check(a.get("data-day") == d["day"], "bar day %r" % a.get("data-day"))
    check(int(a.get("data-pass", -1)) == d["pass"],
          "%s: data-pass %r, JSON %d" % (d["day"], a.get("data-pass"),
                                         d["pass"]))
    check(int(a.get("data-fail", -1)) == d["fail"],
          "%s: data-fail %r, JSON %d" % (d["day"], a.get("data-fail"),
                                         d["fail"]))
    check(title == "%s: %d pass, %d fail" % (d["day"], d["pass"], d["fail"]),
          "%s: title %r" % (d["day"], title))
    h = {r.get("class"): float(r.get("height", "nan")) for r in rects}
    check(set(h) == {"pass", "fail"}, "%s: rects %r" % (d["day"], h))
    heights.append(h)
# The drawn heights: the busiest day's bar sets the scale (the plot's
# height), every other part is its share of it.
if top and len(heights) == len(days) and all(len(h) == 2 for h in heights):
    plot = max(h["pass"] + h["fail"] for h in heights)
    check(plot > 100, "the busiest bar is %.1f px high" % plot)
    for h, d in zip(heights, days):
        for k in ("pass", "fail"):
            want = d[k] / top
            got = h[k] / plot
            check(abs(got - want) < 0.001,
                  "%s: %s bar is %.4f of the plot, want %.4f" %
                  (d["day"], k, got, want))

# The verdict, as the summary has it, its texts escaped and read back.
v = j["verdict"]
check(p.verdict is not None and p.verdict.get("data-state") == v["state"],
      "verdict state %r, JSON %r" % (p.verdict, v["state"]))
check(p.reasons == v["reasons"],
      "reasons differ:\n  page %r\n  json %r" % (p.reasons, v["reasons"]))

# Hostile strings are text, never markup; nothing runs or loads.
for tag in ("script", "img", "iframe", "object", "embed", "link", "form"):
    check(tag not in p.tags, "the page has a <%s>" % tag)
for k, val in p.attrs:
    check(not k.startswith("on"), "event handler attribute %s" % k)
    check(k == "xmlns" or not (val or "").lower().lstrip().startswith(
        ("http:", "https:", "//", "javascript:")), "URL in %s=%r" % (k, val))
text = "".join(p.text)
check("<script>alert(1)</script>" in text,
      "the hostile org name is shown as text")
for s in j["sources"]:
    check(s["ip"] in text, "source %r in the page" % s["ip"])

# The screenshot: a PNG of the window's size.
png = open(png_file, "rb").read()
check(png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR",
      "the screenshot is a PNG")
if png[12:16] == b"IHDR":
    w, hh = struct.unpack(">II", png[16:24])
    check((w, hh) == (int(width), int(height)),
          "screenshot %dx%d, want %sx%s" % (w, hh, width, height))
check(len(png) > 20000, "the screenshot has content (%d bytes)" % len(png))

sys.exit(1 if failed else 0)
