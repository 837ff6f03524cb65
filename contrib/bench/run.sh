#!/bin/sh
# contrib/bench/run.sh: the whole benchmark, as `make bench` runs it.
#
#	top_srcdir=SRC top_builddir=BUILD sh contrib/bench/run.sh
#
# Environment: BENCH_SECS (measured seconds per run, 4), BENCH_COUNT
# (corpus messages, 300), BENCH_CONC ("1 8 64"), BENCH_OUT (where
# results.md, results.tsv and the logs go: BUILD/contrib/bench),
# BENCH_BIG (bytes of the big-body test, 52428800; 0 skips it),
# BENCH_PROFILE (1: perf profile of the inbound run when perf works),
# BENCH_SETS ("null am-in am-rec am-sign am-silent odk-v odk-s chain";
# am-rec: am-in with aggregate-report recording to SQLite; am-silent:
# one sender in ten behind a DNS server that never answers), BENCH_TRANSPORTS
# ("unix tcp"), BENCH_KEEP (keep the work directory).
#
# As root it re-runs itself in private network and mount namespaces
# (unshare -n -m): a loopback of its own, where a caching resolver can
# listen on port 53 of 198.18.0.53 (RFC 2544 benchmarking space, not
# 127/8, which libunbound refuses to query by default) and where
# /etc/resolv.conf can be bind-mounted to point at it for OpenDMARC's libc
# resolver without touching the host's. Nothing outside the namespaces
# changes; every process started here is killed on exit.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
PY=/usr/bin/python3
SECS=${BENCH_SECS:-4}
COUNT=${BENCH_COUNT:-300}
CONCS=${BENCH_CONC:-1 8 64}
OUT=${BENCH_OUT:-$top_builddir/contrib/bench}
BIG=${BENCH_BIG:-52428800}
PROFILE=${BENCH_PROFILE:-1}
MB=$top_builddir/contrib/bench/milterbench
AM=$top_builddir/milter/authmilter
RESOLVER=198.18.0.53

if [ -z "${BENCH_NS:-}" ] && [ "$(id -u)" -eq 0 ] &&
    unshare -n -m true 2>/dev/null; then
	BENCH_NS=1 top_srcdir=$top_srcdir top_builddir=$top_builddir \
	    exec unshare -n -m sh "$0" "$@"
fi

mkdir -p "$OUT"
W=$(mktemp -d "${TMPDIR:-/tmp}/am-bench.XXXXXX")
chmod 755 "$W"
PIDS=""
cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null
	done
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
log() { echo "bench: $*" >&2; }

TSV=$OUT/results.tsv
: > "$TSV"
LOGS=$OUT/logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
START=$(date +%s)

# --- the network ---
PEERS=yes
if [ -n "${BENCH_NS:-}" ]; then
	ip link set lo up && ip addr add "$RESOLVER/32" dev lo ||
	    { log "cannot set up the loopback"; exit 1; }
else
	log "not root or no unshare: no private network; peers skipped"
	PEERS=no
fi

# --- corpus and DNS ---
log "corpus: $COUNT messages"
$PY "$top_srcdir/contrib/bench/corpus.py" --out "$W/corpus" \
    --keygen "$top_builddir/milter/authmilter-keygen" \
    --check "$top_builddir/milter/authmilter-check" --count "$COUNT" ||
    exit 1
cp "$W/corpus/mix.txt" "$OUT/corpus-mix.txt"
IDX=$W/corpus/index
KEYS=$W/corpus/keys
# authmilter reads its keys as the user it runs as (reloads do too).
[ "$(id -u)" -eq 0 ] && chown nobody "$KEYS"/*.key

$PY "$top_srcdir/t/tools/dnsserver.py" --zone "$W/corpus/zone.json" \
    --port-file "$W/dns.port" --addr 127.0.0.1 &
PIDS="$PIDS $!"
n=100
while [ ! -s "$W/dns.port" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
DNS_PORT=$(cat "$W/dns.port") || exit 1

# A caching resolver on $RESOLVER:53 for everyone (the peers need port
# 53: OpenDMARC's libc resolver knows no other); authmilter goes through
# it too, so the path is the same for all.
if [ $PEERS = yes ] && [ -x /usr/sbin/unbound ]; then
	cat > "$W/unbound.conf" <<EOC
server:
	interface: $RESOLVER
	port: 53
	username: ""
	chroot: ""
	directory: "$W"
	pidfile: "$W/unbound.pid"
	use-syslog: no
	logfile: "$W/unbound.log"
	verbosity: 0
	num-threads: 1
	do-not-query-localhost: no
	module-config: "iterator"
	access-control: 127.0.0.0/8 allow
	access-control: 198.18.0.0/15 allow
	msg-cache-size: 4m
	rrset-cache-size: 8m
forward-zone:
	name: "."
	forward-addr: 127.0.0.1@$DNS_PORT
remote-control:
	control-enable: no
EOC
	/usr/sbin/unbound -d -c "$W/unbound.conf" 2>>"$LOGS/unbound.log" &
	PIDS="$PIDS $!"
	n=100
	while ! ss -lnu 2>/dev/null | grep -q "$RESOLVER:53 " &&
	    [ $n -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	echo "nameserver $RESOLVER" > "$W/resolv.conf"
	mount --bind "$W/resolv.conf" /etc/resolv.conf ||
	    { log "cannot bind-mount resolv.conf"; PEERS=no; }
	FWD=$RESOLVER
elif [ $PEERS = yes ]; then
	log "no /usr/sbin/unbound (apt-get install unbound): peers skipped"
	PEERS=no
fi
[ $PEERS = yes ] || FWD=127.0.0.1@$DNS_PORT
cat > "$W/dns.conf" <<EOC
server:
	do-not-query-localhost: no
	module-config: "iterator"
forward-zone:
	name: "."
	forward-addr: $FWD
EOC
chmod 644 "$W/dns.conf"
if [ $PEERS = yes ] && ! command -v opendkim >/dev/null; then
	log "opendkim not installed (apt-get install -y opendkim opendmarc)"
	PEERS=no
fi

# --- the filters ---
# start_filter NAME TRANSPORT: starts it, sets SPEC and FPID (and FPID2).
port_of() {
	case $1 in
	null) echo 9890 ;; am-in) echo 9891 ;; am-sign) echo 9892 ;;
	odk-v) echo 9893 ;; odk-s) echo 9894 ;; odmarc) echo 9895 ;;
	esac
}
spec_of() { # NAME TRANSPORT
	if [ "$2" = unix ]; then
		echo "local:$W/$1.sock"
	else
		echo "inet:$(port_of "$1")@127.0.0.1"
	fi
}
am_conf() { # NAME SPEC
	if [ "$(id -u)" -eq 0 ]; then u=nobody; else u=""; fi
	# am-rec: am-in with aggregate-report recording to SQLite.
	rec=
	if [ "$1" = am-rec ]; then
		mkdir -p "$W/rdb" && chmod 777 "$W/rdb"
		rec="reports: { store = \"sqlite:$W/rdb/reports.db\"; org_name = \"Bench\"; from = \"dmarc@mx.bench.test\"; };"
	fi
	cat > "$W/$1.conf" <<EOC
socket = "$2";
socket_mode = "0666";
user = "$u";
pidfile = "";
authserv_id = "mx.bench.test";
log_level = "notice";
sign_networks = ["127.0.0.0/8", "::1/128"];
dns: { unbound_conf = "$W/dns.conf"; timeout = 5.0; };
spf: { enabled = true; helo = true; reject_fail = false; received_spf = true; };
dkim: { verify = true; sign: {
	canonicalization = "relaxed/relaxed";
	keys = ( { name = "rsa"; domain = "sign.example.com"; selector = "s1";
		algorithm = "rsa-sha256"; file = "$KEYS/sign.example.com-s1.key"; } );
	table = ( { from = "*"; keys = ["rsa"]; } ); }; };
dmarc: { enabled = true; enforce = true; quarantine = "hold"; };
$rec
EOC
	chmod 644 "$W/$1.conf"
}
odk_conf() { # NAME SPEC MODE
	cat > "$W/$1.conf" <<EOC
Mode			$3
Socket			$2
PidFile			$W/$1.pid
UMask			000
Syslog			no
AuthservID		mx.bench.test
Nameservers		$RESOLVER
Canonicalization	relaxed/relaxed
SignatureAlgorithm	rsa-sha256
InternalHosts		127.0.0.1
RequireSafeKeys		no
KeyTable		$W/odk.keytable
SigningTable		refile:$W/odk.signingtable
EOC
	echo "rsa sign.example.com:s1:$KEYS/sign.example.com-s1.key" \
	    > "$W/odk.keytable"
	echo "* rsa" > "$W/odk.signingtable"
}
odmarc_conf() { # NAME SPEC
	cat > "$W/$1.conf" <<EOC
Socket			$2
PidFile			$W/$1.pid
UMask			000
Syslog			false
AuthservID		mx.bench.test
TrustedAuthservIDs	mx.bench.test
SPFSelfValidate		true
SPFIgnoreResults	true
RejectFailures		true
PublicSuffixList	/usr/share/publicsuffix/public_suffix_list.dat
EOC
}
wait_listen() { # SPEC PID
	n=100
	while [ $n -gt 0 ]; do
		kill -0 "$2" 2>/dev/null || return 1
		case $1 in
		local:*) [ -S "${1#local:}" ] && return 0 ;;
		inet:*) p=${1#inet:}; p=${p%@*}
			ss -ltn 2>/dev/null | grep -q "127.0.0.1:$p " &&
			    return 0 ;;
		esac
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
start_one() { # NAME TRANSPORT -> FILTER_PID
	s=$(spec_of "$1" "$2")
	rm -f "$W/$1.sock"
	case $1 in
	null) "$top_builddir/t/tools/nullfilter" -s "$s" -a \
		2>>"$LOGS/$1.log" & ;;
	am-in | am-rec | am-sign) am_conf "$1" "$s"
		"$AM" -f -c "$W/$1.conf" 2>>"$LOGS/$1.log" & ;;
	odk-v) odk_conf "$1" "$s" v
		opendkim -f -x "$W/$1.conf" 2>>"$LOGS/$1.log" & ;;
	odk-s) odk_conf "$1" "$s" s
		opendkim -f -x "$W/$1.conf" 2>>"$LOGS/$1.log" & ;;
	odmarc) odmarc_conf "$1" "$s"
		opendmarc -f -c "$W/$1.conf" 2>>"$LOGS/$1.log" & ;;
	esac
	FILTER_PID=$!
	PIDS="$PIDS $FILTER_PID"
	wait_listen "$s" "$FILTER_PID" ||
	    { log "$1 ($2) did not start:"; tail -5 "$LOGS/$1.log" >&2
	      return 1; }
}
stop_one() { # PID
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# bench_set SETNAME TRANSPORT: one filter (or chain) at every concurrency.
CLIENT=198.51.100.25
HELO=mx1.sender.example.net
bench_set() {
	set_name=$1
	tr=$2
	case $set_name in
	chain) start_one odk-v "$tr" || return 1; P1=$FILTER_PID
		start_one odmarc "$tr" || { stop_one "$P1"; return 1; }
		P2=$FILTER_PID
		args="-s $(spec_of odk-v "$tr") -s $(spec_of odmarc "$tr")
		    -p $P1 -p $P2 -m dkim=pass -m dmarc=pass -m spf=pass" ;;
	*) start_one "$set_name" "$tr" || return 1; P1=$FILTER_PID; P2=
		args="-s $(spec_of "$set_name" "$tr") -p $P1" ;;
	esac
	case $set_name in
	am-in | am-rec) args="$args -m dkim=pass -m dmarc=pass -m spf=pass" ;;
	odk-v) args="$args -m dkim=pass" ;;
	am-sign | odk-s) args="$args -m d=sign.example.com" ;;
	esac
	case $set_name in
	am-sign | odk-s) ip=127.0.0.1 ;;
	*) ip=$CLIENT ;;
	esac
	for c in $CONCS; do
		if [ "$c" -eq 1 ]; then w=40; else w=$((c * 10)); fi
		[ $w -lt 100 ] && [ "$c" -gt 1 ] && w=100
		label=$set_name/$tr/$c
		# shellcheck disable=SC2086
		"$MB" $args -i "$IDX" -c "$c" -t "$SECS" -w "$w" -a "$ip" \
		    -H "$HELO" -l "$label" >>"$TSV" 2>>"$LOGS/milterbench.log"
		tail -1 "$LOGS/milterbench.log" >&2
	done
	if [ "$tr" = unix ] && [ "$BIG" -gt 0 ] && [ "$set_name" != chain ]; then
		# shellcheck disable=SC2086
		"$MB" -s "$(spec_of "$set_name" "$tr")" -p "$P1" -i "$IDX" \
		    -b "$BIG" -a "$ip" -H "$HELO" -l "$set_name/big" \
		    >>"$TSV" 2>>"$LOGS/milterbench.log"
		tail -1 "$LOGS/milterbench.log" >&2
	fi
	if [ "$tr" = unix ] && [ "$set_name" = am-in ] && [ "$PROFILE" = 1 ] &&
	    perf stat -e instructions true >/dev/null 2>&1; then
		log "perf profile of am-in/unix/8"
		perf record -q -g -o "$W/perf.data" -p "$P1" -- sleep "$SECS" \
		    >/dev/null 2>&1 &
		pp=$!
		"$MB" $args -i "$IDX" -c 8 -t "$SECS" -w 0 -a "$ip" \
		    -H "$HELO" -l "am-in/perf/8" >/dev/null \
		    2>>"$LOGS/milterbench.log"
		wait $pp
		perf report -i "$W/perf.data" --no-children --percent-limit 0.7 \
		    --stdio -g none --sort dso,symbol 2>/dev/null |
		    grep -v '^#' | grep -v '^$' | head -40 \
		    > "$OUT/profile-am-in.txt"
		# who makes the system calls (the kernel's share is most of it)
		perf report -i "$W/perf.data" --no-children --stdio \
		    -G --percent-limit 2 --sort symbol 2>/dev/null |
		    grep -v '^#' | grep -v '^$' | head -400 \
		    > "$OUT/profile-am-in-callers.txt"
	fi
	stop_one "$P1"
	[ -n "$P2" ] && stop_one "$P2"
	return 0
}

# silent_set: one sender in ten has a DNS server that never answers. The
# same authmilter serves 9 connections of the normal corpus alone (base),
# then again beside one connection from the silent corpus (every lookup of
# those senders' domains goes unanswered, through the same forwarder);
# the rows are the normal senders' rate and latency, and the silent ones'.
silent_set() {
	start_one am-in unix || return 1
	P1=$FILTER_PID
	args="-s $(spec_of am-in unix) -p $P1 -a $CLIENT -H $HELO"
	# shellcheck disable=SC2086
	"$MB" $args -i "$IDX" -c 9 -t "$SECS" -w 100 -m dmarc=pass \
	    -l am-silent/base/9 >>"$TSV" 2>>"$LOGS/milterbench.log"
	tail -1 "$LOGS/milterbench.log" >&2
	# shellcheck disable=SC2086
	"$MB" $args -i "$W/corpus/silent-index" -c 1 -t $((SECS + 12)) -w 0 \
	    -T 60 -l am-silent/dead/1 >"$W/dead.tsv" \
	    2>>"$LOGS/milterbench.log" &
	dead=$!
	# Its first lookups are in flight (and unanswered) before measuring.
	sleep 1
	# shellcheck disable=SC2086
	"$MB" $args -i "$IDX" -c 9 -t "$SECS" -w 0 -m dmarc=pass \
	    -l am-silent/mixed/9 >>"$TSV" 2>>"$LOGS/milterbench.log"
	tail -1 "$LOGS/milterbench.log" >&2
	wait "$dead"
	cat "$W/dead.tsv" >>"$TSV"
	stop_one "$P1"
}

SETS="null am-in am-rec am-sign am-silent"
[ $PEERS = yes ] && SETS="$SETS odk-v odk-s chain"
SETS=${BENCH_SETS:-$SETS}
for tr in ${BENCH_TRANSPORTS:-unix tcp}; do
	for s in $SETS; do
		[ "$s" = am-silent ] && continue
		log "$s over $tr"
		bench_set "$s" "$tr" || log "$s over $tr: FAILED"
	done
done
case " $SETS " in
*" am-silent "*)
	log "am-silent: 1 in 10 senders with a silent DNS server (unix)"
	silent_set || log "am-silent: FAILED" ;;
esac
END=$(date +%s)
$PY "$top_srcdir/contrib/bench/table.py" "$TSV" \
    --peers "$PEERS" --secs $((END - START)) > "$OUT/results.md"
cat "$OUT/results.md"
log "done in $((END - START)) s: $OUT/results.md"
