#!/bin/sh
# Sums the closing "N passed, N failed[, N skipped]" line of every test log
# under the build tree and prints one closing line of the same form. A test
# program without such a line counts as one case, passed or failed by its
# automake result.
top=${1:-.}
passed=0 failed=0 skipped=0
for trs in $(find "$top/t" -name '*.trs' | sort); do
	log=${trs%.trs}.log
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" 2>/dev/null | tail -n 1)
	res=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
		f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
		s=$(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p')
		passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
		# A runner that died after its closing line still failed.
		if [ "$res" != PASS ] && [ "$res" != SKIP ] && [ "$f" -eq 0 ]; then
			failed=$((failed + 1))
		fi
	else
		case $res in
		PASS) passed=$((passed + 1)) ;;
		SKIP) skipped=$((skipped + 1)) ;;
		*) failed=$((failed + 1)) ;;
		esac
	fi
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
