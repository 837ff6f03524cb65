# Shared set-up for the shell tests: a temp directory, a loopback DNS
# server with a zone, the unbound.conf that points libunbound at it, and
# a closing line "N passed, N failed". Source it; it uses $top_srcdir,
# $top_builddir (set by make check) and /usr/bin/python3 (Debian's, which
# has python3-dnslib, python3-spf and python3-dkim).
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
PY=/usr/bin/python3
T_PASSED=0
T_FAILED=0
T_SKIPPED=0
T_PIDS=""

T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/am-test.XXXXXX")
chmod 755 "$T_TMP"
t_cleanup() {
	for p in $T_PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $T_PIDS; do
		wait "$p" 2>/dev/null
	done
	[ -n "${T_KEEP:-}" ] || rm -rf "$T_TMP"
}
trap t_cleanup EXIT
trap 'exit 1' INT TERM

t_ok() {
	T_PASSED=$((T_PASSED + 1))
	echo "ok   $1"
}
t_fail() {
	T_FAILED=$((T_FAILED + 1))
	echo "FAIL $1"
	shift
	[ $# -gt 0 ] && printf '  %s\n' "$@"
	return 0
}
# t_skip NAME REASON: a case that cannot run here, and why.
t_skip() {
	T_SKIPPED=$((T_SKIPPED + 1))
	echo "skip $1 ($2)"
}
# t_eq NAME GOT WANT
t_eq() {
	if [ "$2" = "$3" ]; then
		t_ok "$1"
	else
		t_fail "$1" "got:  $2" "want: $3"
	fi
}
t_done() {
	if [ "$T_SKIPPED" -gt 0 ]; then
		echo "$T_PASSED passed, $T_FAILED failed, $T_SKIPPED skipped"
	else
		echo "$T_PASSED passed, $T_FAILED failed"
	fi
	[ "$T_FAILED" -eq 0 ] && [ "$T_PASSED" -gt 0 ]
}

# t_wait_file FILE [TENTHS]: waits until FILE exists (default 10 s).
t_wait_file() {
	n=${2:-100}
	while [ ! -s "$1" ] && [ "$n" -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	[ -s "$1" ]
}

# t_dns_start ZONE.json [ARGS...]: starts the loopback DNS server on a free
# port (ARGS go to dnsserver.py, e.g. --negative-ttl 1) and
# writes $T_TMP/dns.conf (unbound.conf syntax) for --dns-conf and
# dns.unbound_conf. Queries are logged to $T_TMP/dns.log. Reserved names
# used by tests are opened with local-zone nodefault (libunbound answers
# them itself otherwise; see shared/reference/libunbound-notes.md).
t_dns_start() {
	rm -f "$T_TMP/dns.port"
	_zone=$1
	shift
	$PY "$top_srcdir/t/tools/dnsserver.py" --zone "$_zone" \
	    --port-file "$T_TMP/dns.port" --log "$T_TMP/dns.log" "$@" &
	T_DNS_PID=$!
	T_PIDS="$T_PIDS $T_DNS_PID"
	t_wait_file "$T_TMP/dns.port" || { echo "dns server did not start"; exit 1; }
	T_DNS_PORT=$(cat "$T_TMP/dns.port")
	cat > "$T_TMP/dns.conf" <<EOC
server:
	do-not-query-localhost: no
	module-config: "iterator"
	unblock-lan-zones: yes
	insecure-lan-zones: yes
	local-zone: "test." nodefault
	local-zone: "invalid." nodefault
	local-zone: "example." nodefault
	local-zone: "localhost." nodefault
	local-zone: "2.0.192.in-addr.arpa." nodefault
	local-zone: "100.51.198.in-addr.arpa." nodefault
	local-zone: "113.0.203.in-addr.arpa." nodefault
	local-zone: "10.in-addr.arpa." nodefault
	local-zone: "168.192.in-addr.arpa." nodefault
	local-zone: "127.in-addr.arpa." nodefault
	local-zone: "8.b.d.0.1.0.0.2.ip6.arpa." nodefault
	local-zone: "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa." nodefault
forward-zone:
	name: "."
	forward-addr: 127.0.0.1@$T_DNS_PORT
EOC
	DNS_CONF=$T_TMP/dns.conf
}

# t_dns_reload: after rewriting the zone file in place.
t_dns_reload() {
	kill -HUP "$T_DNS_PID"
	sleep 0.2
}

# t_dns_count PATTERN: queries in the log matching an extended regex.
t_dns_count() {
	grep -cE "$1" "$T_TMP/dns.log" 2>/dev/null || true
}
