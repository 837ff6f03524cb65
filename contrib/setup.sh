#!/bin/sh
# One-command set-up on Debian 12 (run as root, or with sudo available).
#   sh contrib/setup.sh run    install, build, run authmilter in the
#                              foreground with conf/authmilter.conf
#   sh contrib/setup.sh test   install what the tests need; build and run
#                              make check four ways (normal, ASan+UBSan,
#                              ThreadSanitizer, libFuzzer targets)
# Ends with "N passed, N failed" for the test run.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
BUILD_PKGS="build-essential autoconf automake libtool pkg-config libmilter-dev
 libssl-dev libunbound-dev libconfig-dev libidn2-dev libxml2-dev zlib1g-dev
 libsqlite3-dev libpq-dev libzip-dev"
TEST_PKGS="python3 python3-dnslib python3-spf python3-yaml python3-dkim
 python3-dnspython libmail-dkim-perl libnet-dns-perl mandoc valgrind clang
 libclang-rt-14-dev postfix swaks ldnsutils libxml2-utils postgresql sqlite3
 chromium tzdata"

install_pkgs() {
	$SUDO apt-get update -q
	# Postfix asks a question on install; "No configuration" leaves the
	# system instance unconfigured (the tests run a private one).
	echo "postfix postfix/main_mailer_type select No configuration" |
	    $SUDO debconf-set-selections
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "$@"
}

build() { # build DIR CONFIGURE-ARGS...
	dir=$1
	shift
	[ -x configure ] || autoreconf -fi
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q "$@" && make -j"$jobs" &&
	    if [ -n "${with_tests:-}" ]; then
		# The test programs too: one that does not compile is a
		# broken build, not a test run with nothing in it.
		make -j"$jobs" check TESTS=
	    fi)
}

# The daemon refuses to run as root; the sample drops to this user (and
# authmilter -n, which the tests run on the sample, checks that it exists).
add_user() {
	id authmilter >/dev/null 2>&1 ||
	    $SUDO useradd --system --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin authmilter
}

case ${1:-} in
run)
	install_pkgs $BUILD_PKGS
	build build
	add_user
	# The daemon reads its configuration again as that user (at start
	# and at every reload), who may not reach this tree (a clone in
	# /root): it runs on a copy that the user can read.
	run=/run/authmilter-sample
	$SUDO mkdir -p "$run"
	$SUDO install -m 644 conf/authmilter.conf "$run/authmilter.conf"
	exec $SUDO build/milter/authmilter -f -c "$run/authmilter.conf"
	;;
test)
	# shellcheck disable=SC2086
	install_pkgs $BUILD_PKGS $TEST_PKGS
	add_user
	autoreconf -fi
	with_tests=1
	status=0
	: >/tmp/am-summary.$$
	# A build that fails counts as one failed test, and the closing line
	# is still printed.
	broken() {
		echo "FAIL: build $1"
		echo "0 passed, 1 failed, 0 skipped" >>/tmp/am-summary.$$
		status=1
	}
	if build build --enable-werror; then
		(cd build && make -j"$jobs" check) || status=1
		sh t/summary.sh build >>/tmp/am-summary.$$ || status=1
	else
		broken build
	fi
	if build build-san --enable-werror --enable-sanitizers; then
		(cd build-san && make -j"$jobs" check) || status=1
		sh t/summary.sh build-san >>/tmp/am-summary.$$ || status=1
	else
		broken build-san
	fi
	# ThreadSanitizer: the unit and integration tests again (TSan and
	# ASan cannot share a build). halt_on_error: a race fails its test.
	if build build-tsan --enable-werror --enable-tsan; then
		# The suppressions are read again by a daemon that re-executes
		# itself as its user, who may not reach this tree: a copy.
		supp=/tmp/authmilter-tsan.supp
		install -m 644 t/tsan.supp "$supp"
		(cd build-tsan && AM_TSAN=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$supp ${TSAN_OPTIONS:-}" \
		    make -j"$jobs" check) || status=1
		sh t/summary.sh build-tsan >>/tmp/am-summary.$$ || status=1
	else
		broken build-tsan
	fi
	# Every parser's libFuzzer target, from its seeds, briefly.
	if build build-fuzz --enable-werror --enable-fuzzing CC=clang; then
		sh t/fuzz/run.sh build-fuzz "${FUZZ_SECONDS:-10}" \
		    >build-fuzz/fuzz.log 2>&1 || status=1
		grep -E '^(ok|FAIL)' build-fuzz/fuzz.log
		tail -n 1 build-fuzz/fuzz.log | sed 's/$/, 0 skipped/' \
		    >>/tmp/am-summary.$$
	else
		broken build-fuzz
	fi
	# Failing tests' logs first, so the closing line stays last.
	for d in build build-san build-tsan; do
		for trs in $(find "$d/t" -name '*.trs' 2>/dev/null | sort); do
			grep -qE '^:test-result: (PASS|SKIP)' "$trs" && continue
			echo "=== ${trs%.trs}.log"
			tail -n 60 "${trs%.trs}.log"
		done
	done
	awk -F'[ ,]+' '{p += $1; f += $3; s += $5}
	    END {printf "%d passed, %d failed, %d skipped\n", p, f, s}' \
	    /tmp/am-summary.$$
	rm -f /tmp/am-summary.$$
	exit $status
	;;
*)
	echo "usage: sh contrib/setup.sh run|test" >&2
	exit 2
	;;
esac
