# Helpers for the integration tests: start the real daemon with a config
# in $T_TMP and drive it with t/tools/miltc. Source after t/lib/common.sh.
AM=$top_builddir/milter/authmilter
MILTC=$top_builddir/t/tools/miltc

# The daemon refuses to run as root without a user to become.
if [ "$(id -u)" -eq 0 ]; then
	AM_USER=nobody
else
	AM_USER=
fi

# am_conf FILE [EXTRA-LINES]: a config listening on $T_TMP/am.sock with
# authserv-id mx.test, DNS from $DNS_CONF, and EXTRA-LINES appended.
am_conf() {
	cat > "$1" <<EOC
socket = "local:$T_TMP/am.sock";
socket_mode = "0666";
user = "$AM_USER";
pidfile = "$T_TMP/am.pid";
authserv_id = "mx.test";
log_level = "info";
sign_networks = ["127.0.0.0/8", "::1/128"];
dns: { unbound_conf = "$DNS_CONF"; timeout = 2.0; };
$2
EOC
	chmod 644 "$1"
}

# am_start CONF: starts the daemon in the foreground (log in
# $T_TMP/am.log) and waits for its socket.
am_start() {
	rm -f "$T_TMP/am.sock"
	"$AM" -f -c "$1" >>"$T_TMP/am.log" 2>&1 &
	AM_PID=$!
	T_PIDS="$T_PIDS $AM_PID"
	n=100
	while [ ! -S "$T_TMP/am.sock" ] && [ $n -gt 0 ]; do
		if ! kill -0 "$AM_PID" 2>/dev/null; then
			echo "authmilter exited:"; cat "$T_TMP/am.log"
			return 1
		fi
		sleep 0.1
		n=$((n - 1))
	done
	[ -S "$T_TMP/am.sock" ]
}

# t_wait_socket PATH: waits up to 10 s for a socket file at PATH.
t_wait_socket() {
	n=100
	while [ ! -S "$1" ] && [ $n -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	[ -S "$1" ]
}

# am_stop: SIGTERM and wait; the exit status goes to $AM_RC.
am_stop() {
	kill -TERM "$AM_PID" 2>/dev/null
	wait "$AM_PID"
	AM_RC=$?
}

# miltc_run ARGS... < message: miltc on the daemon's socket.
miltc_run() {
	"$MILTC" -s "local:$T_TMP/am.sock" --timeout 20 "$@"
}

# wait_log PATTERN: waits up to 5 s for an extended regex in the log.
wait_log() {
	n=50
	while ! grep -qE "$1" "$T_TMP/am.log" && [ $n -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	grep -qE "$1" "$T_TMP/am.log"
}

# tcp_listening PORT: true when a socket listens on 127.0.0.1:PORT (or on
# 0.0.0.0:PORT). Reads /proc/net/tcp: a probe that connects would open a
# full session with the server (an smtpd opens one with its milters).
tcp_listening() {
	grep -qE "^ *[0-9]+: (0100007F|00000000):$(printf '%04X' "$1") [0-9A-F]{8}:[0-9A-F]{4} 0A " \
	    /proc/net/tcp
}

# am_start_inet CONF PORT: as am_start, for a config whose socket is
# inet:PORT@127.0.0.1; waits until the port listens.
am_start_inet() {
	"$AM" -f -c "$1" >>"$T_TMP/am.log" 2>&1 &
	AM_PID=$!
	T_PIDS="$T_PIDS $AM_PID"
	n=100
	while ! tcp_listening "$2" && [ $n -gt 0 ]; do
		if ! kill -0 "$AM_PID" 2>/dev/null; then
			echo "authmilter exited:"; cat "$T_TMP/am.log"
			return 1
		fi
		sleep 0.1
		n=$((n - 1))
	done
	tcp_listening "$2"
}
