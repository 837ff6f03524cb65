#!/usr/bin/python3
"""Lists the numeric limits that man/authmilter.conf.5 and the sample
conf/authmilter.conf state, one row each, for conf-keys-documented.sh to
check against what authmilter -n accepts:

    KEY TYPE MIN MAX WHERE

TYPE is integer or number (as the manual's ".It Cm KEY Pq Vt TYPE" says);
MIN or MAX is "-" when the text states only the other bound. WHERE is
file:line of the statement. A numeric key of the manual that states no
range is a row with MIN and MAX both "?", which the caller counts as a
failure: every limit must be written down.

The forms read: "from A to B" and "from A (...) to B", "at least A",
"at most B" in the manual; "(A to B" and "A at least" in the comment
lines just above a key in the sample.
"""
import re
import sys

NUM = r"([0-9]+(?:\.[0-9]+)?)"


def bounds(text):
    m = re.search(r"\bfrom " + NUM + r"(?: \([^)]*\))? to " + NUM, text)
    if m:
        return m.group(1), m.group(2)
    m = re.search(r"\(" + NUM + " to " + NUM + r"\b", text)
    if m:
        return m.group(1), m.group(2)
    lo = re.search(r"\bat least " + NUM + r"|" + NUM + r" at least\b", text)
    hi = re.search(r"\bat most " + NUM + r"\b", text)
    if lo or hi:
        return (next(g for g in lo.groups() if g) if lo else "-",
                hi.group(1) if hi else "-")
    return None


def manual(path):
    """Numeric items: their type and the text up to the next item."""
    items, cur = {}, None
    for no, line in enumerate(open(path, encoding="utf-8"), 1):
        m = re.match(r"\.It Cm ([a-z_.]+) Pq Vt (\w+)", line)
        if m:
            cur = None
            if m.group(2) in ("integer", "number"):
                cur = m.group(1)
                items[cur] = [m.group(2), no, ""]
            continue
        if cur is not None and line.startswith((".It", ".El", ".Sh")):
            cur = None
        if cur is not None and not line.startswith(".\\\""):
            # Drop the macro names so the words join up.
            items[cur][2] += " " + re.sub(r"^\.[A-Z][a-z]+ ", "",
                                          line.strip())
    return items


def sample(path, types):
    """Ranges stated in the comment block above a key of the sample."""
    rows, groups, comment = [], [], ""
    for no, line in enumerate(open(path, encoding="utf-8"), 1):
        s = line.strip()
        if s.startswith("#"):
            comment += " " + s.lstrip("#").strip()
            continue
        m = re.match(r"(\w+)\s*:\s*(\{)?\s*$", s)
        if m:
            groups.append(m.group(1))
        elif s.startswith("}"):
            if groups:
                groups.pop()
        else:
            m = re.match(r"(\w+)\s*=", s)
            key = ".".join(groups + [m.group(1)]) if m else None
            b = bounds(comment) if key in types else None
            if b:
                rows.append((key, types[key], b[0], b[1],
                             "%s:%d" % (path, no)))
        comment = ""
    return rows


def main():
    man, conf = sys.argv[1], sys.argv[2]
    items = manual(man)
    for key, (typ, no, text) in sorted(items.items()):
        b = bounds(text) or ("?", "?")
        print(key, typ, b[0], b[1], "%s:%d" % (man, no))
    for row in sample(conf, {k: v[0] for k, v in items.items()}):
        print(*row)


main()
