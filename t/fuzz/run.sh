#!/bin/sh
# Runs every libFuzzer target built in BUILDDIR/t/fuzz for SECONDS each,
# starting from its seeds in t/fuzz/corpus/NAME (copied, so the source
# tree is not written to). A crash, leak or timeout fails the target; its
# reproducer is kept in $TMPDIR and named in the output.
#	sh t/fuzz/run.sh BUILDDIR [SECONDS]
build=${1:?usage: run.sh BUILDDIR [SECONDS]}
secs=${2:-20}
src=$(cd "$(dirname "$0")/../.." && pwd)
passed=0 failed=0
for bin in "$build"/t/fuzz/fuzz-*; do
	[ -x "$bin" ] && [ -f "$bin" ] || continue
	case $bin in *.o) continue ;; esac
	name=$(basename "$bin")
	name=${name#fuzz-}
	work=$(mktemp -d "${TMPDIR:-/tmp}/am-fuzz-$name.XXXXXX")
	mkdir -p "$work/corpus"
	[ -d "$src/t/fuzz/corpus/$name" ] &&
	    cp "$src/t/fuzz/corpus/$name"/* "$work/corpus/" 2>/dev/null
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix="$work/" "$work/corpus" > "$work/log" 2>&1; then
		passed=$((passed + 1))
		echo "ok   fuzz-$name: $(grep -o 'Done [0-9]* runs' "$work/log")"
		rm -rf "$work"
	else
		failed=$((failed + 1))
		echo "FAIL fuzz-$name (log and reproducer in $work)"
		tail -n 30 "$work/log"
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
