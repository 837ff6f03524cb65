#!/bin/sh
# The daemon's sockets, privileges and reloads: every socket kind starts;
# the socket gets its mode; the daemon runs as its user; keys are read again
# on SIGHUP (as that user, so a key only root can read fails at start); a
# new socket_mode applies in place; a new socket makes the daemon move to it
# (same pid); a new user is refused with the old configuration kept.
. "$top_srcdir/t/lib/common.sh"
. "$top_srcdir/t/integration/lib.sh"

data=$top_srcdir/t/data/msgauth
t_dns_start "$data/zone.json"
free_port() {
	$PY -c 'import socket,sys; s=socket.socket(socket.AF_INET6 if sys.argv[1]=="6" else socket.AF_INET); s.bind(("::1" if sys.argv[1]=="6" else "127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}
msg() {
	printf 'From: Alice <alice@bank.test>\nTo: b@mx.test\nSubject: hi\n\nhello\n'
}
# selectors SOCKET: the s= of each DKIM-Signature a trusted client gets.
selectors() {
	msg | "$MILTC" -s "$1" --timeout 20 --ip 127.0.0.1 --helo localhost \
	    --mail-from alice@bank.test |
	    sed -n 's/^insheader 0 DKIM-Signature:.* s=\([^;]*\);.*/\1/p' |
	    sort | tr '\n' ' '
}

# 1. unix: and inet6: sockets (local: and inet: are in daemon.sh).
am_conf "$T_TMP/unix.conf"
sed -i "s|^socket = .*|socket = \"unix:$T_TMP/am.sock\";|" "$T_TMP/unix.conf"
if am_start "$T_TMP/unix.conf"; then
	out=$(msg | miltc_run --ip 127.0.0.1 --mail-from alice@bank.test)
	t_eq "unix: socket serves" "$(printf '%s\n' "$out" | grep '^reply eom:')" "reply eom: accept"
else
	t_fail "unix: socket serves" "$(cat "$T_TMP/am.log")"
fi
am_stop
if $PY -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
	port=$(free_port 6)
	am_conf "$T_TMP/inet6.conf"
	sed -i "s|^socket = .*|socket = \"inet6:$port@::1\";|" "$T_TMP/inet6.conf"
	"$AM" -f -c "$T_TMP/inet6.conf" >>"$T_TMP/am.log" 2>&1 &
	AM_PID=$!
	T_PIDS="$T_PIDS $AM_PID"
	wait_log "listening on inet6:$port@::1" || true
	out=$(msg | "$MILTC" -s "inet6:$port@::1" --timeout 20 --ip 127.0.0.1 --mail-from alice@bank.test)
	t_eq "inet6: socket serves" "$(printf '%s\n' "$out" | grep '^reply eom:')" "reply eom: accept"
	am_stop
else
	# Some containers have no IPv6 loopback at all.
	t_skip "inet6: socket serves" "no ::1 on this host"
fi

# 2. Keys, privileges and reloads.
mkdir -p "$T_TMP/keys"
cp "$data/s1.key" "$data/e1.key" "$T_TMP/keys/"
chmod 600 "$T_TMP/keys/"*.key
chmod 755 "$T_TMP/keys"
signing='dkim: { sign: {
	keys = (
		{ name = "rsa"; domain = "bank.test"; selector = "s1"; algorithm = "rsa-sha256"; file = "'$T_TMP'/keys/s1.key"; },
		{ name = "ed"; domain = "bank.test"; selector = "e1"; algorithm = "ed25519-sha256"; file = "'$T_TMP'/keys/e1.key"; }
	);
	table = ( { from = "*@bank.test"; keys = ["KEYS"]; } );
}; };'
# As under systemd's RuntimeDirectory: the user owns the socket's directory,
# so it can make a new socket there after giving up root.
RUN=$T_TMP/run
mkdir -p "$RUN"
[ -n "$AM_USER" ] && chown "$AM_USER" "$RUN"
conf() { # KEYS: the config with the socket in $RUN and that table row
	am_conf "$T_TMP/am.conf" "$(printf '%s\n' "$signing" | sed "s/\"KEYS\"/$1/")"
	sed -i "s|$T_TMP/am.sock|$RUN/am.sock|" "$T_TMP/am.conf"
}
conf '"rsa"'
if [ -n "$AM_USER" ]; then
	: > "$T_TMP/am.log"
	"$AM" -f -c "$T_TMP/am.conf" >>"$T_TMP/am.log" 2>&1
	t_eq "a key only root can read: start refused" "$?" 1
	case $(cat "$T_TMP/am.log") in
	*"as user $AM_USER: "*"s1.key"*"reloads read the configuration and keys as this user"*)
		t_ok "  ... and says why" ;;
	*) t_fail "  ... and says why" "$(cat "$T_TMP/am.log")" ;;
	esac
	chown "$AM_USER" "$T_TMP/keys/"*.key
fi
: > "$T_TMP/am.log"
"$AM" -f -c "$T_TMP/am.conf" >>"$T_TMP/am.log" 2>&1 &
AM_PID=$!
T_PIDS="$T_PIDS $AM_PID"
# The log line comes after the privileges are gone.
if t_wait_socket "$RUN/am.sock" && wait_log 'listening on'; then
	t_ok "daemon starts with keys its user can read"
else
	t_fail "daemon starts with keys its user can read" "$(cat "$T_TMP/am.log")"
	t_done
	exit 1
fi
t_eq "socket mode from the config" "$(stat -c %a "$RUN/am.sock")" 666
if [ -n "$AM_USER" ]; then
	t_eq "runs as its user" \
	    "$(awk '/^Uid:/ {print $2 " " $3 " " $4 " " $5}' "/proc/$AM_PID/status")" \
	    "$(id -u "$AM_USER") $(id -u "$AM_USER") $(id -u "$AM_USER") $(id -u "$AM_USER")"
	t_eq "socket owned by its user" "$(stat -c %U "$RUN/am.sock")" "$AM_USER"
fi
t_eq "signs with the rsa key" "$(selectors "local:$RUN/am.sock")" "s1 "

# A new table row and a rotated key file, read again on SIGHUP.
cp "$T_TMP/keys/e1.key" "$T_TMP/keys/e1new.key"
[ -n "$AM_USER" ] && chown "$AM_USER" "$T_TMP/keys/e1new.key"
conf '"rsa", "ed"'
sed -i 's|e1.key|e1new.key|' "$T_TMP/am.conf"
kill -HUP "$AM_PID"
wait_log 'configuration reloaded' && t_ok "SIGHUP reloads the keys" || t_fail "SIGHUP reloads the keys"
t_eq "signs with both keys after the reload" "$(selectors "local:$RUN/am.sock")" "e1 s1 "

# socket_mode applies in place.
sed -i 's/^socket_mode = .*/socket_mode = "0660";/' "$T_TMP/am.conf"
: > "$T_TMP/am.log"
kill -USR1 "$AM_PID"
wait_log 'configuration reloaded' || true
t_eq "new socket_mode applied on SIGUSR1" "$(stat -c %a "$RUN/am.sock")" 660

# A new user is refused; the old configuration stays.
cp "$T_TMP/am.conf" "$T_TMP/am.conf.good"
sed -i 's/^user = .*/user = "daemon";/; s/^authserv_id = .*/authserv_id = "other.test";/' "$T_TMP/am.conf"
: > "$T_TMP/am.log"
kill -HUP "$AM_PID"
wait_log 'reload failed' && t_ok "a new user is refused" || t_fail "a new user is refused" "$(cat "$T_TMP/am.log")"
grep -q 'the user cannot change while running' "$T_TMP/am.log" &&
    t_ok "  ... and says why" || t_fail "  ... and says why" "$(cat "$T_TMP/am.log")"
out=$(msg | "$MILTC" -s "local:$RUN/am.sock" --timeout 20 --ip 192.0.2.10 --mail-from alice@bank.test)
t_eq "old authserv-id still in use" \
    "$(printf '%s\n' "$out" | grep -c '^insheader 0 Authentication-Results:  *mx.test;')" 1

# A new socket the user cannot make is refused before anything stops.
if [ -n "$AM_USER" ]; then
	cp "$T_TMP/am.conf.good" "$T_TMP/am.conf"
	sed -i "s|$RUN/am.sock|$T_TMP/am3.sock|" "$T_TMP/am.conf"
	: > "$T_TMP/am.log"
	kill -HUP "$AM_PID"
	wait_log 'reload failed' && t_ok "a socket the user cannot make is refused" ||
	    t_fail "a socket the user cannot make is refused" "$(cat "$T_TMP/am.log")"
	grep -q "cannot listen on local:$T_TMP/am3.sock: its directory: Permission denied" "$T_TMP/am.log" &&
	    t_ok "  ... and says why" || t_fail "  ... and says why" "$(cat "$T_TMP/am.log")"
	t_eq "  ... still signing on the old socket" "$(selectors "local:$RUN/am.sock")" "e1 s1 "
fi

# A new socket: the daemon moves to it, same pid.
cp "$T_TMP/am.conf.good" "$T_TMP/am.conf"
sed -i "s|am.sock|am2.sock|" "$T_TMP/am.conf"
: > "$T_TMP/am.log"
kill -HUP "$AM_PID"
t_wait_socket "$RUN/am2.sock" || true
wait_log "listening on local:$RUN/am2.sock" &&
    t_ok "a new socket: listening there" ||
    t_fail "a new socket: listening there" "$(cat "$T_TMP/am.log")"
grep -q 'restarting in place' "$T_TMP/am.log" &&
    t_ok "  ... and the log says so" || t_fail "  ... and the log says so" "$(cat "$T_TMP/am.log")"
kill -0 "$AM_PID" 2>/dev/null && t_ok "  ... same pid" || t_fail "  ... same pid"
t_eq "  ... the old socket is gone" "$([ -e "$RUN/am.sock" ] && echo there || echo gone)" "gone"
t_eq "  ... pidfile kept" "$(cat "$T_TMP/am.pid" 2>/dev/null)" "$AM_PID"
t_eq "  ... and signs as before" "$(selectors "local:$RUN/am2.sock")" "e1 s1 "
am_stop
t_eq "SIGTERM exit status after moving" "$AM_RC" 0

t_done
