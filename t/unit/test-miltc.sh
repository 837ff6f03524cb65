#!/bin/sh
# miltc and milter_client against nullfilter (libmilter) over the real
# milter protocol: negotiation, per-stage replies, macros, header values,
# CRLF body, the NO*/NR_* flags, SKIP, every modification action, reply
# codes, abort and close paths, a 10 MB body, inet sockets, and a peer that
# stalls or lies about packet lengths.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib/common.sh"

MILTC=$top_builddir/t/tools/miltc
NULLF=$top_builddir/t/tools/nullfilter
N=0

# nf_start ARGS...: starts nullfilter on a fresh local socket ($SOCK) with
# its log in $LOG; waits until the socket exists.
nf_start() {
	N=$((N + 1))
	SOCK=$T_TMP/nf$N.sock
	LOG=$T_TMP/nf$N.log
	: > "$LOG"
	"$NULLF" -s "local:$SOCK" -l "$LOG" "$@" &
	NF_PID=$!
	T_PIDS="$T_PIDS $NF_PID"
	n=100
	while [ ! -S "$SOCK" ] && [ "$n" -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	[ -S "$SOCK" ] || { echo "nullfilter did not start"; exit 1; }
}

# libmilter notices SIGTERM only at its next 5 s listener poll; nullfilter
# holds no state worth a clean exit.
nf_stop() {
	kill -KILL "$NF_PID" 2>/dev/null
	wait "$NF_PID" 2>/dev/null
}

# mc SOCKET ARGS... < message: runs miltc; output in $OUT, stderr in
# $ERR, exit status in $RC. A 20 s ceiling catches hangs (status 124).
mc() {
	s=$1
	shift
	timeout 20 "$MILTC" -s "$s" --timeout 5 "$@" > "$T_TMP/out" 2> "$T_TMP/err"
	RC=$?
	OUT=$(cat "$T_TMP/out")
	ERR=$(cat "$T_TMP/err")
}

MSG=$T_TMP/msg.eml
printf 'From: a@b.test\nSubject: hi\n\tthere\nTo:  x@y.test\nX-Drop: gone\n\nbody line\nsecond\n' > "$MSG"

HEAD='reply connect: continue
reply helo: continue
reply mail: continue
reply rcpt: continue
reply data: continue
reply header From: continue
reply header Subject: continue
reply header To: continue
reply header X-Drop: continue
reply eoh: continue
body: 19 bytes, 1 chunks
reply body: continue'

# --- the plain conversation, with one added header (-a) ---
nf_start -a
mc "local:$SOCK" --macro 'mail:{auth_authen}=alice' < "$MSG"
t_eq "basic: exit 0" "$RC" 0
t_eq "basic: output" "$OUT" "negotiated: version=6 actions=0x1 protocol=0x0
$HEAD
addheader X-Nullfilter: yes
reply eom: accept"
t_eq "basic: stderr empty" "$ERR" ""
# What the filter saw: one leading space removed, continuation lines joined
# by LF (the tab kept), the body with CRLF line ends.
t_eq "basic: header values" "$(grep '^header' "$LOG")" 'header From:a@b.test
header Subject:hi\n\tthere
header To: x@y.test
header X-Drop:gone'
t_eq "basic: body CRLF" "$(grep '^eom' "$LOG")" \
    "eom body=19 chunks=1 crlf=2 lf=0"
t_eq "basic: envelope" "$(grep -E '^(connect|helo|mail|rcpt) ' "$LOG")" \
    "connect [192.0.2.1] family=2
helo client.test
mail <sender@client.test>
rcpt <rcpt@mx.test>"
t_eq "basic: macros by stage" \
    "$(grep -E '^macro (connect|mail|rcpt) ({auth_authen}|i|j|{rcpt_addr}|{mail_addr}|_)=' "$LOG" | grep -v -e '^macro mail j=' -e '^macro mail _=' -e '^macro rcpt j=' -e '^macro rcpt _=' -e '^macro rcpt {mail_addr}' -e '^macro rcpt i=' -e '^macro rcpt {auth')" \
    'macro connect j=mx.test
macro connect _=unknown [192.0.2.1]
macro mail i=4AbCdEfGhIj
macro mail {mail_addr}=sender@client.test
macro mail {auth_authen}=alice
macro rcpt {rcpt_addr}=rcpt@mx.test'

# CRLF input gives the same conversation and the same body bytes.
sed 's/$/\r/' "$MSG" > "$T_TMP/crlf.eml"
mc "local:$SOCK" < "$T_TMP/crlf.eml"
t_eq "crlf input: same output" "$OUT" "negotiated: version=6 actions=0x1 protocol=0x0
$HEAD
addheader X-Nullfilter: yes
reply eom: accept"
t_eq "crlf input: body" "$(grep '^eom' "$LOG" | tail -n 1)" \
    "eom body=19 chunks=1 crlf=2 lf=0"

# Options for the envelope and macros reach the filter.
mc "local:$SOCK" --ip 2001:db8::1 --client-name c.example --helo h.example \
    --mail-from '' --rcpt a@mx.test --rcpt '<b@mx.test>' --queue-id Q1 \
    --macro 'connect:j=other.test' < "$MSG"
t_eq "options: exit 0" "$RC" 0
t_eq "options: envelope" "$(grep -E '^(connect|helo|mail|rcpt) ' "$LOG" | tail -n 5)" \
    "connect c.example family=10
helo h.example
mail <>
rcpt <a@mx.test>
rcpt <b@mx.test>"
t_eq "options: macros" "$(grep -E '^macro (connect j|eom i|rcpt \{rcpt_addr\})=' "$LOG" | tail -n 4)" \
    "macro connect j=other.test
macro rcpt {rcpt_addr}=a@mx.test
macro rcpt {rcpt_addr}=b@mx.test
macro eom i=Q1"
t_eq "options: two rcpt replies" "$(printf "%s\n" "$OUT" | grep -c '^reply rcpt: continue')" 2
# A line that is not a header field starts the body (no empty line).
printf 'Subject: x\nnot a header\nmore\n' > "$T_TMP/nohdr.eml"
mc "local:$SOCK" < "$T_TMP/nohdr.eml"
t_eq "non-header line: body starts" "$(printf "%s\n" "$OUT" | grep -E '^(reply header|body:)')" \
    "reply header Subject: continue
body: 20 bytes, 1 chunks"
# An empty body sends no SMFIC_BODY.
printf 'Subject: x\n' > "$T_TMP/nobody.eml"
mc "local:$SOCK" < "$T_TMP/nobody.eml"
t_eq "empty body: notsent" "$(printf "%s\n" "$OUT" | grep -E '^(body|reply body|reply eom)')" \
    "body: 0 bytes, 0 chunks
reply body: notsent
reply eom: accept"
nf_stop

# --- without -a: no action at all ---
nf_start
mc "local:$SOCK" < "$MSG"
t_eq "no actions: output" "$OUT" "negotiated: version=6 actions=0x0 protocol=0x0
$HEAD
reply eom: accept"
nf_stop

# --- every modification action, printed in order, one line each ---
nf_start -m
mc "local:$SOCK" < "$MSG"
t_eq "actions: exit 0" "$RC" 0
t_eq "actions: lines" "$(printf "%s\n" "$OUT" | sed -n '/^reply body:/,$p' | sed 1d)" \
    'insheader 0 X-Ins: first line\n\tsecond line
chgheader Subject 1: changed
chgheader X-Drop 1:
addheader X-Add: added
addrcpt <new@mx.test>
delrcpt <rcpt@mx.test>
chgfrom <other@client.test>
replbody: new body\r\n
quarantine: held by nullfilter
reply eom: accept'
# An action the MTA did not offer is refused by libmilter, and a filter
# that asks for more than was offered fails negotiation in miltc.
mc "local:$SOCK" --actions 0x1 < "$MSG"
t_eq "actions not offered: exit 1" "$RC" 1
nf_stop

# --- end-of-message verdicts ---
for v in "reply:reject 550 5.7.1 nullfilter says no" \
    "tempreply:tempfail 451 4.7.1 nullfilter says later" \
    "reject:reject" "tempfail:tempfail" "discard:discard" \
    "continue:continue"; do
	nf_start -e "${v%%:*}"
	mc "local:$SOCK" < "$MSG"
	t_eq "eom ${v%%:*}" "$RC/$(printf "%s\n" "$OUT" | tail -n 1)" "0/reply eom: ${v#*:}"
	nf_stop
done

# --- a rejected recipient: no DATA, ABORT, QUIT ---
nf_start -x rcpt
mc "local:$SOCK" < "$MSG"
t_eq "rcpt reject: output" "$RC/$(printf "%s\n" "$OUT" | tail -n 2)" "0/reply mail: continue
reply rcpt: reject"
t_eq "rcpt reject: filter saw abort" "$(grep -E '^(data|abort|close)' "$LOG")" \
    "abort body=0
close"
nf_stop
nf_start -x connect
mc "local:$SOCK" < "$MSG"
t_eq "connect reject: stops" "$RC/$OUT" "0/negotiated: version=6 actions=0x0 protocol=0x0
reply connect: reject"
nf_stop
nf_start -x header
mc "local:$SOCK" < "$MSG"
t_eq "header reject: stops at the first field" "$RC/$(printf "%s\n" "$OUT" | tail -n 1)" \
    "0/reply header From: reject"
nf_stop

# --- the filter's protocol flags: NOHELO, NOEOH, NR_HDR, NR_CONN ---
nf_start -p 0x10c2
mc "local:$SOCK" < "$MSG"
t_eq "flags: output" "$OUT" "negotiated: version=6 actions=0x0 protocol=0x10c2
reply connect: noreply
reply helo: notsent
reply mail: continue
reply rcpt: continue
reply data: continue
reply header From: noreply
reply header Subject: noreply
reply header To: noreply
reply header X-Drop: noreply
reply eoh: notsent
body: 19 bytes, 1 chunks
reply body: continue
reply eom: accept"
t_eq "flags: filter saw no helo, no eoh" "$(grep -cE '^(helo|eoh)' "$LOG")" 0
t_eq "flags: filter saw 4 headers" "$(grep -c '^header' "$LOG")" 4
nf_stop
# SMFIP_HDR_LEADSPC: the value goes out exactly as after the colon.
nf_start -p 0x100000
mc "local:$SOCK" < "$MSG"
t_eq "leadspc: values keep their space" "$(grep '^header' "$LOG")" 'header From: a@b.test
header Subject: hi\n\tthere
header To:  x@y.test
header X-Drop: gone'
nf_stop
# SMFIR_SETSYMLIST: only the listed connect macros are sent, in either
# spelling ("{x}" or "x").
nf_start -p 0 -y 'j client_addr'
mc "local:$SOCK" < "$MSG"
t_eq "symlist: connect macros" "$(grep '^macro connect' "$LOG")" \
    "macro connect j=mx.test
macro connect {client_addr}=192.0.2.1"
t_eq "symlist: other stages untouched" "$(grep -c '^macro mail i=' "$LOG")" 1
nf_stop
# NOBODY and NOHDRS: neither is sent.
nf_start -p 0x30
mc "local:$SOCK" < "$MSG"
t_eq "nobody nohdrs" "$(printf "%s\n" "$OUT" | grep -E '^(reply header|body|reply body)')" \
    "reply header From: notsent
reply header Subject: notsent
reply header To: notsent
reply header X-Drop: notsent
body: 0 bytes, 0 chunks
reply body: notsent"
t_eq "nobody nohdrs: filter saw none" "$(grep -cE '^header' "$LOG")/$(grep '^eom' "$LOG")" \
    "0/eom body=0 chunks=0 crlf=0 lf=0"
nf_stop

# --- SMFIR_SKIP: no more body after the first chunk ---
awk 'BEGIN { for (i = 0; i < 100; i++) print "line " i }' > "$T_TMP/body100"
{ printf 'Subject: skip\n\n'; cat "$T_TMP/body100"; } > "$T_TMP/skip.eml"
nf_start -k
mc "local:$SOCK" --chunk 64 < "$T_TMP/skip.eml"
t_eq "skip: output" "$(printf "%s\n" "$OUT" | tail -n 3)" "body: 64 bytes, 1 chunks
reply body: skip
reply eom: accept"
t_eq "skip: filter got one chunk" "$(grep '^eom' "$LOG")" \
    "eom body=64 chunks=1 crlf=8 lf=0"
nf_stop

# --- abort paths ---
nf_start
mc "local:$SOCK" --abort-after-headers < "$MSG"
t_eq "abort after headers: output" "$RC/$(printf "%s\n" "$OUT" | tail -n 2)" "0/reply eoh: continue
abort"
t_eq "abort after headers: filter" "$(grep -E '^(abort|close|eom)' "$LOG")" \
    "abort body=0
close"

# A 10 MB body from a bounded loop, streamed in 65535-byte chunks.
awk 'BEGIN { for (i = 0; i < 163840; i++) printf "%063d\n", i }' \
    > "$T_TMP/big.body"
{ printf 'Subject: big\n\n'; cat "$T_TMP/big.body"; } > "$T_TMP/big.eml"
: > "$LOG"
mc "local:$SOCK" < "$T_TMP/big.eml"
# 163840 lines of 64 bytes, plus one CR each: 10649600 bytes.
t_eq "10 MB body: output" "$RC/$(printf "%s\n" "$OUT" | tail -n 3)" "0/body: 10649600 bytes, 163 chunks
reply body: continue
reply eom: accept"
t_eq "10 MB body: filter" "$(grep '^eom' "$LOG")" \
    "eom body=10649600 chunks=163 crlf=163840 lf=0"
mc "local:$SOCK" --chunk 100000 < "$T_TMP/big.eml"
t_eq "chunk capped at 65535" "$(printf "%s\n" "$OUT" | grep '^body')" \
    "body: 10649600 bytes, 163 chunks"
mc "local:$SOCK" --chunk 1000 --abort-after-body-bytes 2500 < "$T_TMP/big.eml"
t_eq "abort after body bytes" "$RC/$(printf "%s\n" "$OUT" | tail -n 3)" "0/body: 2500 bytes, 3 chunks
reply body: continue
abort"
t_eq "abort after body bytes: filter" "$(grep '^abort' "$LOG" | tail -n 1)" \
    "abort body=2500"

# Closing mid-body: miltc returns at once, the filter cleans up and serves
# the next connection.
: > "$LOG"
mc "local:$SOCK" --close-after-body-bytes 100000 < "$T_TMP/big.eml"
t_eq "close mid-body: output" "$RC/$(printf "%s\n" "$OUT" | tail -n 3)" "0/body: 100000 bytes, 2 chunks
reply body: continue
closed"
n=50
until grep -q '^close' "$LOG" || [ "$n" -eq 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
t_eq "close mid-body: filter aborted and closed" \
    "$(grep -E '^(abort|close|eom)' "$LOG")" "abort body=100000
close"
: > "$LOG"
mc "local:$SOCK" < "$MSG"
t_eq "close mid-body: filter still serves" "$RC/$(printf "%s\n" "$OUT" | tail -n 1)" \
    "0/reply eom: accept"
nf_stop

# --- inet socket on a free loopback port ---
PORT=$($PY -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
"$NULLF" -s "inet:$PORT@127.0.0.1" -a &
NF_PID=$!
T_PIDS="$T_PIDS $NF_PID"
n=100
until $PY -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null ||
    [ "$n" -eq 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
mc "inet:$PORT@127.0.0.1" < "$MSG"
t_eq "inet: output" "$RC/$OUT" "0/negotiated: version=6 actions=0x1 protocol=0x0
$HEAD
addheader X-Nullfilter: yes
reply eom: accept"
mc "inet:$PORT@[127.0.0.1]" --nodelay < "$MSG"
t_eq "inet: bracketed host, nodelay" "$RC/$(printf "%s\n" "$OUT" | tail -n 1)" "0/reply eom: accept"
nf_stop

# --- hostile or absent peers ---
mc "local:$T_TMP/none.sock" < "$MSG"
t_eq "no filter: exit 1" "$RC" 1
case $ERR in
*"connect to local:$T_TMP/none.sock"*) t_ok "no filter: message" ;;
*) t_fail "no filter: message" "$ERR" ;;
esac
"$MILTC" > /dev/null 2>&1
t_eq "usage: exit 2" "$?" 2
"$MILTC" -s x --chunk 0 < /dev/null > /dev/null 2>&1
t_eq "bad chunk: exit 2" "$?" 2
"$MILTC" -s "bogus:1" < "$MSG" > /dev/null 2>&1
t_eq "bad socket spec: exit 1" "$?" 1

# fake_peer MODE: a loopback peer on $FAKE that answers OPTNEG badly.
fake_peer() {
	rm -f "$T_TMP/fake.sock"
	$PY - "$T_TMP/fake.sock" "$1" <<'EOF' &
import os, socket, struct, sys, time
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(1)
c, _ = s.accept()
c.recv(65536)
if mode == "stall":
    time.sleep(10)
elif mode == "huge":
    c.sendall(struct.pack(">I", 0x7fffffff) + b"O")
    time.sleep(10)
elif mode == "zero":
    c.sendall(struct.pack(">I", 0))
    time.sleep(10)
elif mode == "version":
    c.sendall(struct.pack(">IBIII", 13, ord("O"), 7, 0, 0))
    time.sleep(10)
elif mode == "garbage":
    c.sendall(struct.pack(">IB", 1, ord("Z")))
    time.sleep(10)
elif mode == "earlyedit":
    c.sendall(struct.pack(">IBIII", 13, ord("O"), 6, 1, 0))
    c.recv(65536)
    c.sendall(struct.pack(">IB", 5, ord("h")) + b"X\0y\0")
    time.sleep(10)
elif mode == "noaction":
    # Every step declined but eom, no actions negotiated: an added header
    # at eom must be refused.
    c.sendall(struct.pack(">IBIII", 13, ord("O"), 6, 0, 0x27f))
    time.sleep(0.5)
    c.sendall(struct.pack(">IB", 5, ord("h")) + b"X\0y\0")
    time.sleep(10)
elif mode == "badreply":
    c.sendall(struct.pack(">IBIII", 13, ord("O"), 6, 0, 0))
    c.recv(65536)
    c.sendall(struct.pack(">IB", 9, ord("y")) + b"999 oops\0")
    time.sleep(10)
EOF
	FAKE_PID=$!
	T_PIDS="$T_PIDS $FAKE_PID"
	n=100
	while [ ! -S "$T_TMP/fake.sock" ] && [ "$n" -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
}

for m in "stall:timeout after 1000 ms waiting for the filter" \
    "huge:reply packet of 2147483647 bytes is over 1048576" \
    "zero:reply packet of length 0" \
    "version:filter protocol version 7" \
    "garbage:OPTNEG answered with 'Z'" \
    "earlyedit:unexpected reply 'h' to connect" \
    "noaction:reply 'h' without its action 0x1 negotiated" \
    "badreply:malformed reply code to connect"; do
	fake_peer "${m%%:*}"
	start=$(date +%s)
	timeout 20 "$MILTC" -s "local:$T_TMP/fake.sock" --timeout 1 < "$MSG" \
	    > /dev/null 2> "$T_TMP/err"
	rc=$?
	elapsed=$(($(date +%s) - start))
	t_eq "peer ${m%%:*}: error" "$rc/$(cat "$T_TMP/err")" "1/miltc: ${m#*:}"
	[ "$elapsed" -le 5 ] && t_ok "peer ${m%%:*}: no hang" ||
	    t_fail "peer ${m%%:*}: no hang" "took ${elapsed}s"
	kill "$FAKE_PID" 2>/dev/null
	wait "$FAKE_PID" 2>/dev/null
done

t_done
