#!/bin/sh
# The summary page in a real browser: test-rx-summary writes the page and
# the JSON summary of one fixed input; Debian's headless Chromium loads the
# page, dumps the DOM after load and takes a screenshot, and
# rx_html_check.py compares the chart's bars (data attributes, titles,
# drawn heights) and the verdict with the JSON, checks that hostile strings
# stayed text and that the screenshot has the window's size.
#
# Console errors: the page has no script, so any console message at all
# (an uncaught error, a Content-Security-Policy violation such as an
# external asset refused) is a failure. Chromium prints them with
# --enable-logging=stderr --v=0 as "INFO:CONSOLE(..)" lines; two pages
# with known errors (an external image and an inline script that CSP
# refuses; an uncaught ReferenceError) must be caught, so that a Chromium
# that stops printing them cannot pass everything.
#
# No chromium is a failure (apt-get install chromium; contrib/setup.sh
# has it in TEST_PKGS): the browser is the point of this test.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib/common.sh"

OUT=$T_TMP/page
mkdir -p "$OUT"
CHROMIUM=${CHROMIUM:-chromium}
if ! command -v "$CHROMIUM" >/dev/null 2>&1; then
	t_fail "chromium present" "chromium not found: apt-get install chromium"
	t_done
	exit
fi
t_ok "chromium present"

if "$top_builddir/t/unit/test-rx-summary" "$OUT" > "$T_TMP/unit.log" 2>&1 &&
    [ -s "$OUT/page.html" ] && [ -s "$OUT/page.json" ]; then
	t_ok "test-rx-summary writes the page"
else
	t_fail "test-rx-summary writes the page" "$(tail -5 "$T_TMP/unit.log")"
	t_done
	exit
fi

# --no-sandbox: the tests run as root in CI, and Chromium refuses to start
# its sandbox as root. The page is our own file with a CSP of default-src
# 'none', and every name resolves to nothing (--host-resolver-rules), so
# nothing can leave the machine either way. A profile of its own keeps the
# run from the user's. At most 60 s per run.
browse() { # browse URL STDOUT STDERR ARGS...
	url=$1 out=$2 err=$3
	shift 3
	timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
	    --user-data-dir="$T_TMP/profile" --no-first-run \
	    --no-default-browser-check --disable-extensions \
	    --disable-background-networking --disable-component-update \
	    --disable-sync --host-resolver-rules='MAP * ~NOTFOUND' \
	    --enable-logging=stderr --v=0 "$@" "$url" > "$out" 2> "$err"
}
# The console lines of a run's stderr.
console() {
	grep -E ':CONSOLE[:(]' "$1"
}

cat > "$T_TMP/bad-csp.html" <<'EOP'
<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'">
<title>bad</title></head><body><img src="http://example.invalid/x.png">
<script>document.title = "ran";</script></body></html>
EOP
cat > "$T_TMP/bad-js.html" <<'EOP'
<!DOCTYPE html><html><head><meta charset="utf-8"><title>bad</title></head>
<body><script>nosuchfunction();</script></body></html>
EOP
for bad in bad-csp bad-js; do
	browse "file://$T_TMP/$bad.html" /dev/null "$T_TMP/$bad.err" --dump-dom
	if console "$T_TMP/$bad.err" > /dev/null; then
		t_ok "console errors of $bad.html are seen"
	else
		t_fail "console errors of $bad.html are seen" \
		    "no CONSOLE line in chromium's log: the check below would be blind"
	fi
done

if browse "file://$OUT/page.html" "$T_TMP/dom.html" "$T_TMP/dom.err" \
    --dump-dom && [ -s "$T_TMP/dom.html" ]; then
	t_ok "chromium loads the page"
else
	t_fail "chromium loads the page" "$(tail -5 "$T_TMP/dom.err")"
fi
if browse "file://$OUT/page.html" "$T_TMP/shot.out" "$T_TMP/shot.err" \
    --window-size=1200,900 --screenshot="$T_TMP/shot.png" &&
    [ -s "$T_TMP/shot.png" ]; then
	t_ok "chromium takes a screenshot"
	[ -z "${T_KEEP:-}" ] || echo "screenshot: $T_TMP/shot.png"
else
	t_fail "chromium takes a screenshot" "$(tail -5 "$T_TMP/shot.err")"
fi
errs=$(console "$T_TMP/dom.err"; console "$T_TMP/shot.err")
t_eq "no console messages from the page" "$errs" ""

if $PY "$top_srcdir/t/integration/rx_html_check.py" "$T_TMP/dom.html" \
    "$OUT/page.json" "$T_TMP/shot.png" 1200 900 > "$T_TMP/check.log" 2>&1; then
	t_ok "the chart and the verdict match the JSON summary"
else
	t_fail "the chart and the verdict match the JSON summary" \
	    "$(head -20 "$T_TMP/check.log")"
fi
t_done
