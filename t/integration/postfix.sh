#!/bin/sh
# End to end through a real Postfix on loopback: a private instance (its
# own config, queue and data directories under $T_TMP, chroot off, smtpd
# on a free loopback port) with smtpd_milters pointing at authmilter on
# an inet socket, relaying everything to smtp-sink, which writes each
# message to a file. swaks sends; XCLIENT presents an outside client
# address for inbound mail. Both layouts on one host: the inbound port
# is verified, a second smtpd (the submission service, with
# milter_macro_daemon_name = ORIGINATING) is signed; authmilter has
# sign_networks = [] and 127.0.0.0/8 only as trusted_networks. Checks:
# 1. inbound mail with valid SPF, DKIM and DMARC arrives with one A-R
#    field from us: spf=pass, dkim=pass (both signatures), dmarc=pass;
# 2. a forged A-R with our authserv-id is gone, another server's is kept;
# 3. a spoof of the p=reject domain gets 550 5.7.1 at end of DATA and
#    nothing arrives;
# 4. mail submitted on the submission port arrives DKIM-signed (RSA and
#    Ed25519) and dkimpy verifies both signatures;
# 4b. the same From: alice@bank.test sent from 127.0.0.1 (a trusted
#    network) to the inbound port is not signed: verified, and the
#    p=reject failure refused;
# 5. header fields of 90 KiB and 200 KiB arrive with our A-R field;
# 6. with authmilter stopped, milter_default_action = tempfail gives
#    451 4.7.1 at MAIL FROM;
# 7. authmilter-report sends the day's aggregate report through Postfix's
#    sendmail(1) into this instance, and it arrives signed.
# Needs root (Postfix's master starts as root); skipped otherwise.
. "$top_srcdir/t/lib/common.sh"
. "$top_srcdir/t/integration/lib.sh"

skip() {
	echo "SKIP: $*"
	exit 77
}
[ "$(id -u)" -eq 0 ] || skip "a private Postfix needs root to start (run make check as root)"
PATH=$PATH:/usr/sbin:/sbin
for prog in postfix postconf smtp-sink swaks; do
	command -v "$prog" >/dev/null 2>&1 ||
	    skip "$prog not installed (Debian: apt-get install postfix swaks)"
done
id postfix >/dev/null 2>&1 || skip "no postfix user (is Postfix installed?)"
getent group postdrop >/dev/null 2>&1 || skip "no postdrop group (is Postfix installed?)"

PF=$T_TMP/pf
PF_ETC=$PF/etc
SINK=$T_TMP/sink
PF_STARTED=

# pf_stop: stops the private Postfix and waits (bounded) until its master
# and every process it started have exited.
pf_stop() {
	[ -n "$PF_STARTED" ] || return 0
	PF_STARTED=
	pid=$(tr -d ' \n' < "$PF/queue/pid/master.pid" 2>/dev/null)
	postfix -c "$PF_ETC" stop >/dev/null 2>&1
	n=100
	while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		echo "postfix master $pid did not stop; killing it"
		kill -KILL "$pid" 2>/dev/null
	fi
	# The master's children notice its exit on their status pipe.
	n=100
	while [ -n "$(pf_procs)" ] && [ $n -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	for p in $(pf_procs); do
		echo "postfix process $p still running; killing it"
		kill -KILL "$p" 2>/dev/null
	done
}

# pf_procs: pids of processes of this instance (MAIL_CONFIG in their
# environment names our config directory).
pf_procs() {
	for e in /proc/[0-9]*/environ; do
		if { tr '\0' '\n' < "$e"; } 2>/dev/null | grep -qxF "MAIL_CONFIG=$PF_ETC"; then
			p=${e#/proc/}
			echo "${p%/environ}"
		fi
	done
}
trap 'pf_stop; t_cleanup' EXIT

# Four free loopback ports: smtpd, the sink, authmilter, submission.
set -- $($PY -c '
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
')
SMTPD_PORT=$1 SINK_PORT=$2 AM_PORT=$3 SUBMIT_PORT=$4

# --- keys (made by authmilter-keygen) and the zone ---
mkdir -p "$T_TMP/keys"
chmod 755 "$T_TMP/keys"
keygen=$top_builddir/milter/authmilter-keygen
"$keygen" -d bank.test -s pf1 -a rsa -D "$T_TMP/keys" > "$T_TMP/keys/pf1.out" 2>/dev/null &&
"$keygen" -d bank.test -s pf2 -a ed25519 -D "$T_TMP/keys" > "$T_TMP/keys/pf2.out" 2>/dev/null ||
    { t_fail "authmilter-keygen makes the keys"; t_done; exit 1; }
[ -n "$AM_USER" ] && chown "$AM_USER" "$T_TMP/keys/"*.key

# bank.test: SPF allows 192.0.2.1, DKIM keys pf1 (RSA) and pf2 (Ed25519),
# DMARC p=reject. attacker.test: SPF allows 192.0.2.66.
$PY - "$T_TMP/keys/pf1.out" "$T_TMP/keys/pf2.out" > "$T_TMP/zone.json" <<'EOPY'
import json, re, sys
zone = {
    "bank.test": [{"type": "TXT", "data": "v=spf1 ip4:192.0.2.1 -all"}],
    "_dmarc.bank.test": [{"type": "TXT", "data": "v=DMARC1; p=reject; rua=mailto:dmarc@bank.test"}],
    "attacker.test": [{"type": "TXT", "data": "v=spf1 ip4:192.0.2.66 -all"}],
}
for path in sys.argv[1:]:
    text = open(path).read()
    m = re.search(r'^(\S+)\. IN TXT \((.*?)\)', text, re.M | re.S)
    zone[m.group(1)] = [{"type": "TXT",
                         "data": "".join(re.findall(r'"([^"]*)"', m.group(2)))}]
json.dump(zone, sys.stdout, indent=1)
EOPY
t_dns_start "$T_TMP/zone.json"

keys='keys = (
	{ name = "rsa"; domain = "bank.test"; selector = "pf1"; algorithm = "rsa-sha256"; file = "'$T_TMP'/keys/pf1.key"; },
	{ name = "ed"; domain = "bank.test"; selector = "pf2"; algorithm = "ed25519-sha256"; file = "'$T_TMP'/keys/pf2.key"; }
);
table = ( { from = "*@bank.test"; keys = ["rsa", "ed"]; } );'
printf 'authserv_id = "mx.test";\ndkim: { sign: {\n%s\n}; };\n' "$keys" > "$T_TMP/sign.conf"

# --- authmilter: verifies inbound mail, signs the submission service's ---
mkdir -p "$T_TMP/db"
[ -n "$AM_USER" ] && chown "$AM_USER" "$T_TMP/db"
am_conf "$T_TMP/am.conf" "dkim: { sign: {
$keys
}; };
reports: { store = \"sqlite:$T_TMP/db/reports.db\"; org_name = \"Test\"; from = \"dmarc@bank.test\"; sendmail = \"/usr/sbin/sendmail\"; };"
sed -i -e "s|^socket = .*|socket = \"inet:$AM_PORT@127.0.0.1\";|" \
    -e 's|^sign_networks = .*|sign_networks = [];\
sign_daemon_names = ["ORIGINATING"];\
trusted_networks = ["127.0.0.0/8"];|' "$T_TMP/am.conf"
am_start_inet "$T_TMP/am.conf" "$AM_PORT" || { t_fail "authmilter starts"; t_done; exit 1; }

# --- the sink: smtp-sink writes each message to $SINK/msg.RANDOM ---
mkdir -p "$SINK"
chown postfix "$SINK"
smtp-sink -u postfix -d "$SINK/msg." "127.0.0.1:$SINK_PORT" 10 \
    >"$T_TMP/sink.log" 2>&1 &
T_PIDS="$T_PIDS $!"

# --- the private Postfix ---
mkdir -p "$PF_ETC" "$PF/queue" "$PF/data"
chmod 755 "$PF" "$PF_ETC" "$PF/queue"
chown postfix "$PF/data"
for f in main.cf master.cf; do
	sed -e "s|@DIR@|$PF|g" -e "s|@SMTPD_PORT@|$SMTPD_PORT|g" \
	    -e "s|@SINK_PORT@|$SINK_PORT|g" -e "s|@AM_PORT@|$AM_PORT|g" \
	    -e "s|@SUBMIT_PORT@|$SUBMIT_PORT|g" \
	    "$top_srcdir/t/data/postfix/$f.in" > "$PF_ETC/$f"
done
# `postfix check` creates the queue subdirectories with their owners.
if ! postfix -c "$PF_ETC" check >"$T_TMP/pf-check.log" 2>&1; then
	t_fail "postfix check" "$(cat "$T_TMP/pf-check.log" "$PF/maillog" 2>/dev/null)"
	t_done
	exit 1
fi
PF_STARTED=1
if ! postfix -c "$PF_ETC" start >"$T_TMP/pf-start.log" 2>&1; then
	t_fail "postfix starts" "$(cat "$T_TMP/pf-start.log" "$PF/maillog" 2>/dev/null)"
	t_done
	exit 1
fi
n=100
while ! { tcp_listening "$SMTPD_PORT" && tcp_listening "$SINK_PORT" &&
    tcp_listening "$SUBMIT_PORT"; } && [ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
if tcp_listening "$SMTPD_PORT" && tcp_listening "$SINK_PORT" &&
    tcp_listening "$SUBMIT_PORT"; then
	t_ok "postfix and the sink listen"
else
	t_fail "postfix and the sink listen" "$(cat "$T_TMP/pf-start.log" "$T_TMP/sink.log" "$PF/maillog" 2>/dev/null)"
	t_done
	exit 1
fi

# send NAME MESSAGE-FILE SWAKS-ARGS...: one SMTP session; the transcript
# goes to $T_TMP/NAME.swaks.
send() {
	name=$1 file=$2
	shift 2
	swaks --server "127.0.0.1:${PORT:-$SMTPD_PORT}" --timeout 30 --data "@$file" "$@" \
	    > "$T_TMP/$name.swaks" 2>&1
}
# inbound NAME MESSAGE-FILE ADDR HELO MAIL-FROM: from an outside client,
# presented with XCLIENT.
inbound() {
	send "$1" "$2" --xclient-addr "$3" --xclient-name "$4" --helo "$4" \
	    --from "$5" --to bob@mx.test
}
# reply_to NAME COMMAND: the server's last reply line to a client line
# starting with COMMAND (e.g. "MAIL FROM:" or "." for end of DATA).
reply_to() {
	awk -v c="$2" '
	substr($0, 1, 4) == " -> " && index(substr($0, 5), c) == 1 { w = 1; next }
	substr($0, 1, 4) == " -> " { w = 0 }
	w && /^<(-|\*\*) / { r = substr($0, 5) }
	END { print r }' "$T_TMP/$1.swaks"
}
# arrived NAME: waits (bounded) until Postfix reports the message queued
# in session NAME delivered to the sink, then prints the sink's file of it
# (the smtp-sink dump: its own X-* lines, then the message).
arrived() {
	qid=$(reply_to "$1" . | sed -n 's/^250 .*queued as \([0-9A-Za-z]*\).*/\1/p')
	[ -n "$qid" ] || return 1
	n=200
	while ! grep -q " $qid: to=<.*status=sent" "$PF/maillog" 2>/dev/null && [ $n -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	grep -q " $qid: to=<.*status=sent" "$PF/maillog" || return 1
	grep -l "^Message-ID: <$1@" "$SINK"/msg.* 2>/dev/null
}
# header NAME FILE: the unfolded fields NAME of a message file, one a
# line, in order (the header block only).
header() {
	awk -v n="$1" '
	/^\r?$/ { exit }
	/^[ \t]/ { if (keep) { sub(/^[ \t]+/, " "); f = f $0 }; next }
	{ if (keep) print f; keep = (tolower(substr($0, 1, length(n) + 1)) == tolower(n) ":"); f = $0 }
	END { if (keep) print f }' "$2" | tr -d '\r'
}
# results FIELD: the method=result pairs of an A-R field, space-separated.
results() {
	printf '%s\n' "$1" | grep -oE ';[ ]*[a-z]+=[a-z]+' | tr -d '; ' | tr '\n' ' ' | sed 's/ $//'
}

msg() { # ID FROM SUBJECT [EXTRA-HEADER-LINES]
	printf 'From: %s\nTo: bob@mx.test\nSubject: %s\nDate: Sun, 22 Nov 2026 08:00:00 +0000\nMessage-ID: <%s@bank.test>\n\nHello from %s.\n' \
	    "$2" "$3" "$1" "$1"
}
check=$top_builddir/milter/authmilter-check

# 1. Valid SPF, DKIM and DMARC from outside: one A-R field from us.
msg good 'Alice <alice@bank.test>' 'Statement' | "$check" sign -c "$T_TMP/sign.conf" > "$T_TMP/good.eml" ||
    t_fail "sign the inbound message"
inbound good "$T_TMP/good.eml" 192.0.2.1 mail.bank.test alice@bank.test
if f=$(arrived good); then
	t_ok "inbound: delivered to the sink"
	ar=$(header Authentication-Results "$f")
	t_eq "inbound: one A-R field" "$(printf '%s\n' "$ar" | grep -c .)" 1
	t_eq "inbound: from our authserv-id" "$(printf '%s\n' "$ar" | grep -c '^Authentication-Results: *mx\.test;')" 1
	t_eq "inbound: spf, dkim (two signatures), dmarc pass" "$(results "$ar")" \
	    "spf=pass dkim=pass dkim=pass dmarc=pass"
	t_eq "inbound: the A-R field names the identities" \
	    "$(printf '%s\n' "$ar" | grep -oE '(smtp\.helo|smtp\.mailfrom|header\.d|header\.s|header\.from)=[^ ;]*' | tr '\n' ' ')" \
	    "smtp.mailfrom=bank.test header.d=bank.test header.s=pf1 header.d=bank.test header.s=pf2 header.from=bank.test "
	# Inserted at index 0: above Postfix's own Received field (after
	# smtp-sink's X-* lines and its Received field).
	t_eq "inbound: our fields on top of the message" \
	    "$(sed -n '/^\r\{0,1\}$/q;/^[^ \t]/s/:.*//p' "$f" | sed '/^X-/d' | sed 1d | tr '\n' ' ')" \
	    "Authentication-Results Received-SPF Received DKIM-Signature DKIM-Signature From To Subject Date Message-ID "
else
	t_fail "inbound: delivered to the sink" "$(cat "$T_TMP/good.swaks")" "$(tail -n 5 "$PF/maillog")"
fi

# 2. Forged A-R fields: ours (mx.test) is removed, another server's kept.
{
	echo 'Authentication-Results: mx.test; dkim=pass (forged) header.d=bank.test'
	echo 'Authentication-Results: other.test; spf=pass smtp.mailfrom=bank.test'
	msg forged 'Alice <alice@bank.test>' 'Forged' | "$check" sign -c "$T_TMP/sign.conf"
} > "$T_TMP/forged.eml"
inbound forged "$T_TMP/forged.eml" 192.0.2.1 mail.bank.test alice@bank.test
if f=$(arrived forged); then
	ar=$(header Authentication-Results "$f")
	t_eq "forged A-R: ours removed" "$(printf '%s\n' "$ar" | grep -c 'forged')" 0
	t_eq "forged A-R: another server's kept" \
	    "$(printf '%s\n' "$ar" | grep -cxF 'Authentication-Results: other.test; spf=pass smtp.mailfrom=bank.test')" 1
	t_eq "forged A-R: one of ours, the new one" \
	    "$(results "$(printf '%s\n' "$ar" | grep '^Authentication-Results: *mx\.test;')")" \
	    "spf=pass dkim=pass dkim=pass dmarc=pass"
	t_eq "forged A-R: two fields in all" "$(printf '%s\n' "$ar" | grep -c .)" 2
else
	t_fail "forged A-R: delivered to the sink" "$(cat "$T_TMP/forged.swaks")" "$(tail -n 5 "$PF/maillog")"
fi

# 3. A spoof of bank.test (p=reject): unsigned, MAIL FROM attacker.test.
msg spoof '"Bank" <security@bank.test>' 'Verify your account' > "$T_TMP/spoof.eml"
inbound spoof "$T_TMP/spoof.eml" 192.0.2.66 mail.attacker.test x@attacker.test
t_eq "spoof: 550 5.7.1 at end of DATA" "$(reply_to spoof .)" \
    "550 5.7.1 Email rejected per DMARC policy for bank.test"
t_eq "spoof: MAIL FROM was accepted" "$(reply_to spoof 'MAIL FROM:' | cut -c1-3)" 250

# 4. Submission on the ORIGINATING service (127.0.0.1, no XCLIENT): signed.
msg submit 'Alice <alice@bank.test>' 'Outbound' | sed 's/^To: .*/To: carol@elsewhere.test/' > "$T_TMP/submit.eml"
PORT=$SUBMIT_PORT send submit "$T_TMP/submit.eml" --helo localhost --from alice@bank.test --to carol@elsewhere.test
if f=$(arrived submit); then
	t_ok "submission: delivered to the sink"
	t_eq "submission: no A-R field" "$(header Authentication-Results "$f" | grep -c .)" 0
	# The message as received: without the X-* lines smtp-sink's dump
	# puts before it.
	awk 'top && /^X-(Client-Addr|Client-Proto|Helo-Args|Mail-Args|Rcpt-Args): / { next }
	{ top = 0; print }' top=1 "$f" > "$T_TMP/submit.out"
	out=$($PY "$top_srcdir/t/integration/postfix/dkimverify.py" "$T_DNS_PORT" "$T_TMP/submit.out" 2>&1)
	t_eq "submission: both signatures verify with dkimpy" "$(printf '%s\n' "$out" | sort | tr '\n' '|')" \
	    "d=bank.test s=pf1 a=rsa-sha256 pass|d=bank.test s=pf2 a=ed25519-sha256 pass|"
else
	t_fail "submission: delivered to the sink" "$(cat "$T_TMP/submit.swaks")" "$(tail -n 5 "$PF/maillog")"
fi

# 4b. The spoof of issue 13: From alice@bank.test, from 127.0.0.1 (a
# trusted network, not a signing source) to the inbound port. Verified,
# not signed: DMARC fails and p=reject refuses it.
msg relayspoof 'Alice <alice@bank.test>' 'Not ours to sign' > "$T_TMP/relayspoof.eml"
send relayspoof "$T_TMP/relayspoof.eml" --helo localhost --from alice@bank.test --to bob@mx.test
t_eq "trusted relay on the inbound port: 550 5.7.1, not signed" "$(reply_to relayspoof .)" \
    "550 5.7.1 Email rejected per DMARC policy for bank.test"
if wait_log "dmarc=fail header.from=bank.test policy.dmarc=reject action=reject"; then
	t_ok "trusted relay on the inbound port: verified (log line)"
else
	t_fail "trusted relay on the inbound port: verified (log line)" "$(tail -n 3 "$T_TMP/am.log")"
fi

# 5. Header fields of 90 KiB and 200 KiB arrive, with our A-R field.
# Postfix 3.7 here delivers either cut to 60 lines (about 59 KB) and
# never sent the milter a packet past libmilter's default 64 KiB limit
# (the old daemon passes this too): a guard of the path end to end;
# t/integration/limits.sh tests the packet limit itself.
for kib in 90 200; do
	{
		$PY - "$kib" <<'EOPY'
import sys
n = int(sys.argv[1]) * 1024
sys.stdout.write("X-Big:")
while n > 0:
    take = min(n, 990)
    sys.stdout.write(" " + "x" * (take - 1) + "\n")
    n -= take
EOPY
		msg "big$kib" '"Bob" <x@attacker.test>' "A $kib KiB field"
	} > "$T_TMP/big$kib.eml"
	inbound "big$kib" "$T_TMP/big$kib.eml" 192.0.2.66 mail.attacker.test x@attacker.test
	if f=$(arrived "big$kib"); then
		t_ok "$kib KiB field: delivered to the sink"
		t_eq "$kib KiB field: our A-R field on it" \
		    "$(header Authentication-Results "$f" | grep -c '^Authentication-Results: *mx\.test;.*dmarc=none')" 1
	else
		t_fail "$kib KiB field: delivered to the sink" \
		    "$(grep -v '^ *[<>-]* *[ \t]*x*$' "$T_TMP/big$kib.swaks" | tail -n 8)" \
		    "$(tail -n 5 "$PF/maillog")"
	fi
done

# 6. authmilter stopped: milter_default_action = tempfail.
am_stop
t_eq "authmilter stopped cleanly" "$AM_RC" 0
inbound down "$T_TMP/good.eml" 192.0.2.1 mail.bank.test alice@bank.test
t_eq "milter down: 451 4.7.1 at MAIL FROM" "$(reply_to down 'MAIL FROM:')" \
    "451 4.7.1 Service unavailable - try again later"

# 7. The aggregate report of what came in, through Postfix's own
# sendmail(1) into this instance (MAIL_CONFIG), out to the sink, signed.
# The rows are moved one day back, as if recorded yesterday, so that the
# run is on the real clock (dkimpy checks t=).
db=$T_TMP/db/reports.db
sqlite3 "$db" 'UPDATE periods SET day = day - 86400; UPDATE report_rows SET day = day - 86400;'
MAIL_CONFIG=$PF_ETC "$top_builddir/milter/authmilter-report" -c "$T_TMP/am.conf" send \
    > "$T_TMP/report.out" 2>&1
t_eq "report: sent through Postfix's sendmail" "$?:$(tail -1 "$T_TMP/report.out")" \
    "0:1 reports, 0 periods skipped, 0 failed"
n=200
while ! grep -q "from=<dmarc@bank.test>" "$PF/maillog" 2>/dev/null && [ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
qid=$(sed -n 's/.* \([0-9A-Za-z]*\): from=<dmarc@bank.test>.*/\1/p' "$PF/maillog" | head -1)
n=200
while ! grep -q " $qid: to=<dmarc@bank.test>.*status=sent" "$PF/maillog" 2>/dev/null && [ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
mid=$(sed -n "s/.* $qid: message-id=<\(.*\)>.*/\1/p" "$PF/maillog" | head -1)
rfile=$(grep -l "^Message-ID: <$mid>" "$SINK"/msg.* 2>/dev/null | head -1)
if [ -n "$rfile" ]; then
	t_ok "report: delivered to the sink"
	awk 'top && /^X-(Client-Addr|Client-Proto|Helo-Args|Mail-Args|Rcpt-Args): / { next }
	{ top = 0; print }' top=1 "$rfile" > "$T_TMP/report.eml"
	out=$($PY "$top_srcdir/t/integration/postfix/dkimverify.py" "$T_DNS_PORT" "$T_TMP/report.eml" 2>&1)
	t_eq "report: both signatures verify with dkimpy" "$(printf '%s\n' "$out" | sort | tr '\n' '|')" \
	    "d=bank.test s=pf1 a=rsa-sha256 pass|d=bank.test s=pf2 a=ed25519-sha256 pass|"
	t_eq "report: its Subject" "$(header Subject "$rfile" | sed 's/Report-ID: [A-Za-z0-9]*$/Report-ID: ID/')" \
	    "Subject: Report Domain: bank.test Submitter: bank.test Report-ID: ID"
	t_eq "report: the period marked sent" \
	    "$(sqlite3 "$db" 'SELECT domain, sent_to FROM periods WHERE sent_at IS NOT NULL')" \
	    "bank.test|dmarc@bank.test"
else
	t_fail "report: delivered to the sink" "$(cat "$T_TMP/report.out")" "$(tail -n 5 "$PF/maillog")"
fi

# Nothing else arrived: the spoof (rejected) and the deferred message are
# not in the sink; exactly the accepted ones and the report are.
pf_stop
t_eq "the sink got exactly the accepted messages" \
    "$(grep -h '^Message-ID:' "$SINK"/msg.* 2>/dev/null | grep -v "<$mid>" | sort | tr '\n' ' ')" \
    "Message-ID: <big200@bank.test> Message-ID: <big90@bank.test> Message-ID: <forged@bank.test> Message-ID: <good@bank.test> Message-ID: <submit@bank.test> "

t_done
