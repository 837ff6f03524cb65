/*
 * miltc: a milter-protocol client for tests and the benchmark. It plays
 * the MTA (Postfix 3.7, protocol version 6) for one SMTP transaction and
 * prints what the filter answered.
 *
 *	miltc -s SOCKET [options] < message.eml
 *
 *	-s, --socket SOCKET	local:/path | unix:/path | inet:PORT@HOST |
 *				inet6:PORT@HOST
 *	--ip ADDR		client address (192.0.2.1); "unknown" sends
 *				an unknown-family connect
 *	--port N		client port (0)
 *	--client-name NAME	client host name ("unknown", sent as [ADDR]
 *				as Postfix does)
 *	--helo NAME		HELO name (client.test)
 *	--mail-from ADDR	envelope sender (sender@client.test; "" is <>)
 *	--rcpt ADDR		recipient, repeatable (rcpt@mx.test)
 *	--queue-id ID		macro i (4AbCdEfGhIj; "" leaves it out)
 *	--macro STAGE:NAME=VALUE  repeatable; STAGE is connect, helo, mail,
 *				rcpt, data, eoh or eom (headers carry the eoh
 *				macros, body chunks the eom ones, as in
 *				Postfix); an empty VALUE removes a default.
 *				e.g. mail:{auth_authen}=alice connect:j=mx.test
 *	--chunk N		body bytes per SMFIC_BODY (65535, the most
 *				libmilter takes; larger values are capped)
 *	--abort-after-headers	after the header fields and end-of-header,
 *				send SMFIC_ABORT and QUIT
 *	--abort-after-body-bytes N  send at most N body bytes, then ABORT
 *				and QUIT (also when the body is shorter)
 *	--close-after-body-bytes N  send at most N body bytes, then close
 *				the socket without a word
 *	--timeout SECONDS	per wait on the socket (30)
 *	--actions HEX, --protocol HEX  what OPTNEG offers (all)
 *	--nodelay		TCP_NODELAY on inet sockets
 *
 * Defaults for the macros: connect: j, {daemon_name}, {daemon_addr}, v, _,
 * {client_addr}, {client_name}; mail: i, {mail_addr}; rcpt: i,
 * {rcpt_addr}; data, eoh, eom: i.
 *
 * The message on stdin (LF or CRLF line ends) is split at the first empty
 * line, or at the first line that is not a header field. Each field goes
 * out as name and value, the value being everything after the colon with
 * continuation lines joined by LF (one leading space is removed unless the
 * filter asked for SMFIP_HDR_LEADSPC). The body goes out with CRLF line
 * ends, a final CRLF added when missing, as over SMTP.
 *
 * Output, one item per line, in protocol order:
 *	negotiated: version=6 actions=0x1 protocol=0x0
 *	reply connect: continue
 *	reply helo: continue | notsent | noreply | ...
 *	reply mail: continue
 *	reply rcpt: continue			(one per recipient)
 *	reply data: continue
 *	reply header NAME: continue		(one per field)
 *	reply eoh: continue
 *	body: 1234 bytes, 1 chunks
 *	reply body: continue | skip | ...	(the last chunk's reply)
 *	insheader 0 NAME: VALUE
 *	addheader NAME: VALUE
 *	chgheader NAME 2: VALUE			("chgheader NAME 2:" deletes)
 *	addrcpt ADDR, addrcpt_par ADDR ARGS, delrcpt ADDR, chgfrom ADDR ARGS
 *	replbody: TEXT
 *	quarantine: REASON
 *	reply eom: accept | reject 550 5.7.1 text | tempfail 451 ... | ...
 *	abort | closed				(the abort options)
 * Values escape backslash, LF, CR and TAB as \\ \n \r \t and other control
 * bytes as \xHH, so each item stays on one line. Verdicts are continue,
 * accept, reject, tempfail, discard, skip, shutdown, connfail, noreply
 * (the filter negotiated no reply) and notsent (it asked not to get the
 * step); a reply code prints as "reject CODE TEXT" or "tempfail CODE TEXT".
 * After a verdict that ends the transaction miltc sends ABORT (inside a
 * transaction) and QUIT, and stops.
 *
 * Exit status: 0 when the conversation completed, whatever the verdict;
 * 1 on a connection or protocol error (message on stderr); 2 on bad usage.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfdef.h>

#include "buf.h"
#include "err.h"
#include "milter_client.h"

/* One input line of the header block, and one unfolded header field. */
/* A header field of a few MiB: past authmilter's 1 MiB header limit. */
#define MILTC_MAX_LINE   (4 * 1024 * 1024)
#define MILTC_MAX_HEADER (4 * 1024 * 1024)
#define MILTC_MAX_RCPT   1000
#define MILTC_MAX_MACROS 1000
#define MILTC_NO_LIMIT   ULLONG_MAX

struct user_macro {
	enum milter_client_stage stage;
	const char              *name;
	const char              *value; /* NULL: remove */
	char                    *mem;
};

struct opts {
	const char                 *socket;
	const char                 *ip;
	unsigned int                port;
	const char                 *client_name;
	const char                 *helo;
	const char                 *mail_from;
	const char                 *queue_id;
	const char                 *rcpt[MILTC_MAX_RCPT];
	size_t                      nrcpt;
	struct user_macro           macro[MILTC_MAX_MACROS];
	size_t                      nmacro;
	bool                        abort_after_headers;
	unsigned long long          abort_after, close_after;
	struct milter_client_params params;
};

/* stdin, read in blocks. */
struct input {
	char   data[65536];
	size_t pos, len;
	bool   eof;
};

struct body {
	struct milter_client      *mc;
	char                      *chunk;
	size_t                     len, size;
	bool                       last_cr;
	char                       last;
	bool                       any;
	unsigned long long         sent, limit;
	size_t                     npkt;
	bool                       stop; /* no more body: limit or verdict */
	struct milter_client_reply r;
};

static const char *const stage_names[MILTER_CLIENT_NSTAGES] = {
    [MILTER_CLIENT_CONNECT] = "connect",
    [MILTER_CLIENT_HELO] = "helo",
    [MILTER_CLIENT_MAIL] = "mail",
    [MILTER_CLIENT_RCPT] = "rcpt",
    [MILTER_CLIENT_DATA] = "data",
    [MILTER_CLIENT_EOM] = "eom",
    [MILTER_CLIENT_EOH] = "eoh",
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: miltc -s SOCKET [--ip ADDR] [--port N] [--client-name "
	    "NAME]\n"
	    "       [--helo NAME] [--mail-from ADDR] [--rcpt ADDR]...\n"
	    "       [--queue-id ID] [--macro STAGE:NAME=VALUE]... [--chunk N]\n"
	    "       [--abort-after-headers] [--abort-after-body-bytes N]\n"
	    "       [--close-after-body-bytes N] [--timeout SECONDS]\n"
	    "       [--actions HEX] [--protocol HEX] [--nodelay] < message\n");
	exit(2);
}

static void die_usage(const char *what, const char *arg)
    __attribute__((noreturn));

static void
die_usage(const char *what, const char *arg)
{
	fprintf(stderr, "miltc: %s: %s\n", what, arg);
	exit(2);
}

/* Prints p[0..n) with control bytes escaped so it stays on one line. */
static void
put_escaped(const char *p, size_t n)
{
	size_t        i;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if (c == '\\')
			fputs("\\\\", stdout);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\r')
			fputs("\\r", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static void
put_str(const char *s)
{
	put_escaped(s, strlen(s));
}

static void
print_verdict(const struct milter_client_reply *r)
{
	if (r->verdict == MILTER_CLIENT_REPLYCODE) {
		fputs(r->text[0] == '4' ? "tempfail " : "reject ", stdout);
		put_str(r->text);
	} else {
		fputs(milter_client_verdict_name(r->verdict), stdout);
	}
	putchar('\n');
}

static void
print_reply(const char *stage, const struct milter_client_reply *r)
{
	printf("reply %s: ", stage);
	print_verdict(r);
}

/* The verdicts after which the MTA goes on with the next step. */
static bool
goes_on(const struct milter_client_reply *r)
{
	return r->verdict == MILTER_CLIENT_CONTINUE ||
	       r->verdict == MILTER_CLIENT_NOREPLY ||
	       r->verdict == MILTER_CLIENT_NOTSENT;
}

static void
print_actions(const struct milter_client *mc)
{
	const struct milter_client_action *a;
	const char                        *sp =
            (milter_client_protocol(mc) & SMFIP_HDR_LEADSPC) ? "" : " ";
	size_t i;

	for (i = 0; i < milter_client_nactions(mc); i++) {
		a = milter_client_action(mc, i);
		switch (a->type) {
		case MILTER_CLIENT_ADDHEADER:
			fputs("addheader ", stdout);
			put_str(a->name);
			printf(":%s", sp);
			break;
		case MILTER_CLIENT_INSHEADER:
			printf("insheader %" PRIu32 " ", a->index);
			put_str(a->name);
			printf(":%s", sp);
			break;
		case MILTER_CLIENT_CHGHEADER:
			fputs("chgheader ", stdout);
			put_str(a->name);
			printf(
			    " %" PRIu32 ":%s", a->index, a->len > 0 ? sp : "");
			break;
		case MILTER_CLIENT_ADDRCPT:
			fputs("addrcpt ", stdout);
			put_str(a->name);
			break;
		case MILTER_CLIENT_ADDRCPT_PAR:
			fputs("addrcpt_par ", stdout);
			put_str(a->name);
			fputs(a->len > 0 ? " " : "", stdout);
			break;
		case MILTER_CLIENT_DELRCPT:
			fputs("delrcpt ", stdout);
			put_str(a->name);
			break;
		case MILTER_CLIENT_CHGFROM:
			fputs("chgfrom ", stdout);
			put_str(a->name);
			fputs(a->len > 0 ? " " : "", stdout);
			break;
		case MILTER_CLIENT_REPLBODY:
			fputs("replbody: ", stdout);
			break;
		case MILTER_CLIENT_QUARANTINE:
			fputs("quarantine: ", stdout);
			put_str(a->name);
			break;
		}
		put_escaped(a->value, a->len);
		putchar('\n');
	}
}

/* Reads more of stdin into in->data; false at end of input. */
static bool
input_fill(struct input *in, struct am_err *err, bool *failed)
{
	ssize_t n;

	if (in->eof)
		return false;
	for (;;) {
		n = read(STDIN_FILENO, in->data, sizeof(in->data));
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	if (n < 0) {
		*failed = true;
		am_err_set(err, "read stdin: %s", strerror(errno));
		return false;
	}
	in->pos = 0;
	in->len = (size_t)n;
	in->eof = n == 0;
	return n > 0;
}

/* One line into line, with its LF when it has one. Returns 1, 0 at end
 * of input, -1 on error (read error, line over MILTC_MAX_LINE). */
static int
input_line(struct input *in, struct buf *line, struct am_err *err)
{
	const char *nl;
	size_t      n;
	bool        failed = false;

	buf_reset(line);
	for (;;) {
		if (in->pos == in->len && !input_fill(in, err, &failed))
			return failed ? -1 : line->len > 0;
		nl = memchr(in->data + in->pos, '\n', in->len - in->pos);
		n = nl ? (size_t)(nl - (in->data + in->pos)) + 1
		       : in->len - in->pos;
		if (buf_append(line, in->data + in->pos, n) < 0)
			return am_err_set(
			    err, "header line over %d bytes", MILTC_MAX_LINE);
		in->pos += n;
		if (nl != NULL)
			return 1;
	}
}

static int
body_flush(struct body *b, struct am_err *err)
{
	size_t n = b->len;

	b->len = 0;
	if (b->stop || n == 0)
		return 0;
	if (b->sent >= b->limit) {
		b->stop = true;
		return 0;
	}
	if (n > b->limit - b->sent)
		n = (size_t)(b->limit - b->sent);
	if (milter_client_body(b->mc, b->chunk, n, &b->r, err) < 0)
		return -1;
	if (b->r.verdict != MILTER_CLIENT_NOTSENT) {
		b->sent += n;
		b->npkt++;
	}
	if (!goes_on(&b->r) || b->r.verdict == MILTER_CLIENT_NOTSENT ||
	    b->sent >= b->limit)
		b->stop = true;
	return 0;
}

static int
body_byte(struct body *b, char c, struct am_err *err)
{
	b->chunk[b->len++] = c;
	if (b->len == b->size)
		return body_flush(b, err);
	return 0;
}

/* Adds text to the body, making every line end CRLF. */
static int
body_put(struct body *b, const char *p, size_t n, struct am_err *err)
{
	size_t i;

	for (i = 0; i < n && !b->stop; i++) {
		if (p[i] == '\n' && !b->last_cr && body_byte(b, '\r', err) < 0)
			return -1;
		if (body_byte(b, p[i], err) < 0)
			return -1;
		b->last_cr = p[i] == '\r';
		b->last = p[i];
		b->any = true;
	}
	return 0;
}

static int
body_finish(struct body *b, struct am_err *err)
{
	if (b->any && b->last != '\n' && body_put(b, "\n", 1, err) < 0)
		return -1;
	return body_flush(b, err);
}

/* A header field name: printable ASCII but ':' (RFC 5322 2.2), then
 * optional WSP and the colon. Returns the name length, or 0. */
static size_t
header_name(const char *p, size_t n, size_t *colon_r)
{
	size_t i, len;

	for (i = 0; i < n && p[i] > ' ' && p[i] < 0x7f && p[i] != ':'; i++)
		;
	len = i;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (len == 0 || i == n || p[i] != ':')
		return 0;
	*colon_r = i;
	return len;
}

static void
chomp(struct buf *line)
{
	if (line->len > 0 && line->data[line->len - 1] == '\n')
		line->len--;
	if (line->len > 0 && line->data[line->len - 1] == '\r')
		line->len--;
	line->data[line->len] = '\0';
}

/* Sends the field held in hdr ("Name\0value"); false when the filter ended
 * the transaction. */
static int
send_header(struct milter_client *mc, struct buf *hdr, size_t namelen,
    bool *stop, struct am_err *err)
{
	struct milter_client_reply r;

	if (hdr->len == 0)
		return 0;
	if (milter_client_header(
		mc, hdr->data, hdr->data + namelen + 1, &r, err) < 0)
		return -1;
	fputs("reply header ", stdout);
	put_str(hdr->data);
	fputs(": ", stdout);
	print_verdict(&r);
	buf_reset(hdr);
	*stop = !goes_on(&r);
	return 0;
}

/* What became of the message after send_message(). */
enum msg_state {
	MSG_ERROR = -1,
	MSG_STOPPED, /* the filter ended the transaction */
	MSG_CUT,     /* an abort or close option ended it */
	MSG_EOM      /* on to end of message */
};

/* Streams the message: header fields, end of header, body. */
static enum msg_state
send_message(struct milter_client *mc, const struct opts *o, struct am_err *err)
{
	static struct input        in;
	struct buf                 line, hdr;
	struct body                b = {.mc = mc};
	struct milter_client_reply r;
	size_t                     namelen = 0, colon = 0, n;
	bool                       stop = false, in_body = false;
	enum msg_state             rc = MSG_ERROR;
	int                        got;

	buf_init(&line, MILTC_MAX_LINE);
	buf_init(&hdr, MILTC_MAX_HEADER);
	b.size = o->params.chunk;
	if ((b.chunk = malloc(b.size)) == NULL) {
		am_err_set(err, "out of memory");
		goto out;
	}
	b.limit =
	    o->abort_after < o->close_after ? o->abort_after : o->close_after;
	while (!in_body && (got = input_line(&in, &line, err)) != 0) {
		if (got < 0)
			goto out;
		chomp(&line);
		if (line.len == 0) {
			in_body = true;
			break;
		}
		if ((line.data[0] == ' ' || line.data[0] == '\t') &&
		    hdr.len > 0) {
			if (buf_append_char(&hdr, '\n') < 0 ||
			    buf_append(&hdr, line.data, line.len) < 0) {
				am_err_set(err, "header field over %d bytes",
				    MILTC_MAX_HEADER);
				goto out;
			}
			continue;
		}
		if (send_header(mc, &hdr, namelen, &stop, err) < 0)
			goto out;
		if (stop)
			break;
		if ((namelen = header_name(line.data, line.len, &colon)) == 0) {
			/* Not a header field: the body starts here. */
			if (buf_append_char(&line, '\n') < 0) {
				am_err_set(err, "header line over %d bytes",
				    MILTC_MAX_LINE);
				goto out;
			}
			in_body = true;
			break;
		}
		if (buf_append(&hdr, line.data, namelen) < 0 ||
		    buf_append_char(&hdr, '\0') < 0 ||
		    buf_append(&hdr, line.data + colon + 1,
			line.len - colon - 1) < 0) {
			am_err_set(err, "header field over %d bytes",
			    MILTC_MAX_HEADER);
			goto out;
		}
	}
	if (!stop && send_header(mc, &hdr, namelen, &stop, err) < 0)
		goto out;
	if (stop) {
		rc = MSG_STOPPED;
		goto out;
	}
	if (milter_client_eoh(mc, &r, err) < 0)
		goto out;
	print_reply("eoh", &r);
	if (!goes_on(&r) || o->abort_after_headers) {
		rc = goes_on(&r) ? MSG_CUT : MSG_STOPPED;
		goto out;
	}
	/* A non-header line that ended the header block opens the body. */
	if (in_body && line.len > 0 &&
	    body_put(&b, line.data, line.len, err) < 0)
		goto out;
	for (;;) {
		bool failed = false;

		if (b.stop)
			break;
		if (in.pos == in.len && !input_fill(&in, err, &failed)) {
			if (failed)
				goto out;
			break;
		}
		n = in.len - in.pos;
		if (body_put(&b, in.data + in.pos, n, err) < 0)
			goto out;
		in.pos += n;
	}
	if (body_finish(&b, err) < 0)
		goto out;
	printf("body: %llu bytes, %zu chunks\n", b.sent, b.npkt);
	if (b.npkt == 0) {
		b.r.verdict = MILTER_CLIENT_NOTSENT;
		b.r.text = "";
	}
	print_reply("body", &b.r);
	if (!goes_on(&b.r) && b.r.verdict != MILTER_CLIENT_SKIP)
		rc = MSG_STOPPED;
	else if (b.limit != MILTC_NO_LIMIT)
		rc = MSG_CUT;
	else
		rc = MSG_EOM;
out:
	free(b.chunk);
	buf_free(&line);
	buf_free(&hdr);
	return rc;
}

static int
apply_user_macros(
    struct milter_client *mc, const struct opts *o, enum milter_client_stage st)
{
	size_t i;

	for (i = 0; i < o->nmacro; i++)
		if (o->macro[i].stage == st &&
		    milter_client_macro(
			mc, st, o->macro[i].name, o->macro[i].value) < 0)
			return -1;
	return 0;
}

/* The address without angle brackets, for {mail_addr} and {rcpt_addr}. */
static int
bare_addr(const char *a, char *dst, size_t size)
{
	size_t n = strlen(a);

	if (n >= 2 && a[0] == '<' && a[n - 1] == '>') {
		a++;
		n -= 2;
	}
	if (n >= size)
		return -1;
	memcpy(dst, a, n);
	dst[n] = '\0';
	return 0;
}

static int
set_default_macros(struct milter_client *mc, const struct opts *o,
    const char *sm_name, struct am_err *err)
{
	char                                  under[1024], addr[1024];
	enum milter_client_stage              st;
	static const enum milter_client_stage qid_stages[] = {
	    MILTER_CLIENT_MAIL, MILTER_CLIENT_RCPT, MILTER_CLIENT_DATA,
	    MILTER_CLIENT_EOH, MILTER_CLIENT_EOM};
	size_t i;
	int    rc = 0;

	snprintf(under, sizeof(under), "%s [%s]", o->client_name, o->ip);
	if (bare_addr(o->mail_from, addr, sizeof(addr)) < 0)
		return am_err_set(err, "sender address too long");
	rc |= milter_client_macro(mc, MILTER_CLIENT_CONNECT, "j", "mx.test");
	rc |= milter_client_macro(
	    mc, MILTER_CLIENT_CONNECT, "{daemon_name}", "mx.test");
	rc |= milter_client_macro(
	    mc, MILTER_CLIENT_CONNECT, "{daemon_addr}", "127.0.0.1");
	rc |= milter_client_macro(
	    mc, MILTER_CLIENT_CONNECT, "v", "Postfix 3.7.11");
	rc |= milter_client_macro(mc, MILTER_CLIENT_CONNECT, "_", under);
	rc |= milter_client_macro(
	    mc, MILTER_CLIENT_CONNECT, "{client_addr}", o->ip);
	rc |= milter_client_macro(
	    mc, MILTER_CLIENT_CONNECT, "{client_name}", sm_name);
	for (i = 0; i < sizeof(qid_stages) / sizeof(qid_stages[0]); i++)
		rc |= milter_client_macro(mc, qid_stages[i], "i",
		    o->queue_id[0] ? o->queue_id : NULL);
	rc |= milter_client_macro(mc, MILTER_CLIENT_MAIL, "{mail_addr}", addr);
	for (st = 0; st < MILTER_CLIENT_NSTAGES; st++)
		rc |= apply_user_macros(mc, o, st);
	return rc < 0 ? am_err_set(err, "out of memory") : 0;
}

/* Ends a conversation the filter or the options cut short. */
static int
finish(struct milter_client *mc, bool in_transaction, struct am_err *err)
{
	if (in_transaction && milter_client_abort(mc, err) < 0)
		return -1;
	return milter_client_quit(mc, err);
}

static void
angle(const char *a, char *dst, size_t size)
{
	if (a[0] == '<')
		snprintf(dst, size, "%s", a);
	else
		snprintf(dst, size, "<%s>", a);
}

static int
run(struct milter_client *mc, const struct opts *o, struct am_err *err)
{
	struct milter_client_reply r;
	char                       sm_name[1024], from[1024], to[1024];
	char                       addr[1024];
	const char                *argv[2] = {NULL, NULL};
	size_t                     i, accepted = 0;
	bool                       unknown = strcmp(o->ip, "unknown") == 0;
	enum msg_state             ms;

	/* Postfix sends "[addr]" for a client without a verified name. */
	if (strcmp(o->client_name, "unknown") == 0 && !unknown)
		snprintf(sm_name, sizeof(sm_name), "[%s]", o->ip);
	else
		snprintf(sm_name, sizeof(sm_name), "%s", o->client_name);
	if (set_default_macros(mc, o, sm_name, err) < 0)
		return -1;
	if (milter_client_open(mc, o->socket, err) < 0)
		return -1;
	printf("negotiated: version=%" PRIu32 " actions=0x%" PRIx32
	       " protocol=0x%" PRIx32 "\n",
	    milter_client_version(mc), milter_client_actions(mc),
	    milter_client_protocol(mc));
	if (milter_client_connect(
		mc, sm_name, unknown ? NULL : o->ip, o->port, &r, err) < 0)
		return -1;
	print_reply("connect", &r);
	if (!goes_on(&r))
		return finish(mc, false, err);
	if (milter_client_helo(mc, o->helo, &r, err) < 0)
		return -1;
	print_reply("helo", &r);
	if (!goes_on(&r))
		return finish(mc, false, err);
	angle(o->mail_from, from, sizeof(from));
	argv[0] = from;
	if (milter_client_mail(mc, argv, &r, err) < 0)
		return -1;
	print_reply("mail", &r);
	if (!goes_on(&r))
		return finish(mc, true, err);
	for (i = 0; i < o->nrcpt; i++) {
		angle(o->rcpt[i], to, sizeof(to));
		if (bare_addr(to, addr, sizeof(addr)) < 0 ||
		    milter_client_macro(
			mc, MILTER_CLIENT_RCPT, "{rcpt_addr}", addr) < 0 ||
		    apply_user_macros(mc, o, MILTER_CLIENT_RCPT) < 0)
			return am_err_set(err, "out of memory");
		argv[0] = to;
		if (milter_client_rcpt(mc, argv, &r, err) < 0)
			return -1;
		print_reply("rcpt", &r);
		if (goes_on(&r))
			accepted++;
		else if (r.verdict != MILTER_CLIENT_REJECT &&
			 r.verdict != MILTER_CLIENT_TEMPFAIL &&
			 r.verdict != MILTER_CLIENT_REPLYCODE)
			return finish(mc, true, err);
	}
	/* With every recipient refused there is no DATA. */
	if (accepted == 0)
		return finish(mc, true, err);
	if (milter_client_data(mc, &r, err) < 0)
		return -1;
	print_reply("data", &r);
	if (!goes_on(&r))
		return finish(mc, true, err);
	if ((ms = send_message(mc, o, err)) == MSG_ERROR)
		return -1;
	if (ms == MSG_STOPPED)
		return finish(mc, true, err);
	if (ms == MSG_CUT) {
		if (!o->abort_after_headers &&
		    o->close_after <= o->abort_after) {
			printf("closed\n");
			return milter_client_close(mc, err);
		}
		printf("abort\n");
		return finish(mc, true, err);
	}
	if (milter_client_eom(mc, &r, err) < 0)
		return -1;
	print_actions(mc);
	print_reply("eom", &r);
	return milter_client_quit(mc, err);
}

static unsigned long long
parse_count(const char *s, const char *what)
{
	char              *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
		die_usage(what, s);
	return v;
}

static uint32_t
parse_hex(const char *s, const char *what)
{
	char         *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 16);
	if (errno != 0 || end == s || *end != '\0' || v > UINT32_MAX ||
	    s[0] == '-')
		die_usage(what, s);
	return (uint32_t)v;
}

static void
parse_macro(struct opts *o, const char *arg)
{
	struct user_macro *m;
	char              *colon, *eq;
	size_t             st;

	if (o->nmacro == MILTC_MAX_MACROS)
		die_usage("too many macros", arg);
	m = &o->macro[o->nmacro];
	if ((m->mem = strdup(arg)) == NULL)
		die_usage("out of memory", arg);
	if ((colon = strchr(m->mem, ':')) == NULL ||
	    (eq = strchr(colon, '=')) == NULL || eq == colon + 1)
		die_usage("want --macro STAGE:NAME=VALUE", arg);
	*colon = '\0';
	*eq = '\0';
	for (st = 0; st < MILTER_CLIENT_NSTAGES; st++)
		if (strcmp(m->mem, stage_names[st]) == 0)
			break;
	if (st == MILTER_CLIENT_NSTAGES)
		die_usage("unknown macro stage", m->mem);
	m->stage = (enum milter_client_stage)st;
	m->name = colon + 1;
	m->value = eq[1] != '\0' ? eq + 1 : NULL;
	o->nmacro++;
}

int
main(int argc, char **argv)
{
	enum {
		O_IP = 256,
		O_PORT,
		O_CLIENT,
		O_HELO,
		O_FROM,
		O_RCPT,
		O_QID,
		O_MACRO,
		O_CHUNK,
		O_ABORT_HDR,
		O_ABORT_BODY,
		O_CLOSE_BODY,
		O_TIMEOUT,
		O_ACTIONS,
		O_PROTOCOL,
		O_NODELAY
	};
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"ip", required_argument, NULL, O_IP},
	    {"port", required_argument, NULL, O_PORT},
	    {"client-name", required_argument, NULL, O_CLIENT},
	    {"helo", required_argument, NULL, O_HELO},
	    {"mail-from", required_argument, NULL, O_FROM},
	    {"rcpt", required_argument, NULL, O_RCPT},
	    {"queue-id", required_argument, NULL, O_QID},
	    {"macro", required_argument, NULL, O_MACRO},
	    {"chunk", required_argument, NULL, O_CHUNK},
	    {"abort-after-headers", no_argument, NULL, O_ABORT_HDR},
	    {"abort-after-body-bytes", required_argument, NULL, O_ABORT_BODY},
	    {"close-after-body-bytes", required_argument, NULL, O_CLOSE_BODY},
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"actions", required_argument, NULL, O_ACTIONS},
	    {"protocol", required_argument, NULL, O_PROTOCOL},
	    {"nodelay", no_argument, NULL, O_NODELAY},
	    {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	static struct opts    o;
	struct milter_client *mc;
	struct am_err         err = {.msg = ""};
	unsigned long long    v;
	double                secs;
	char                 *end;
	int                   c, rc;
	size_t                i;

	o.ip = "192.0.2.1";
	o.client_name = "unknown";
	o.helo = "client.test";
	o.mail_from = "sender@client.test";
	o.queue_id = "4AbCdEfGhIj";
	o.abort_after = MILTC_NO_LIMIT;
	o.close_after = MILTC_NO_LIMIT;
	o.params.chunk = MILTER_CLIENT_CHUNK;
	o.params.timeout_ms = MILTER_CLIENT_TIMEOUT_MS;
	while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o.socket = optarg;
			break;
		case O_IP:
			o.ip = optarg;
			break;
		case O_PORT:
			if ((v = parse_count(optarg, "bad port")) > 65535)
				die_usage("bad port", optarg);
			o.port = (unsigned int)v;
			break;
		case O_CLIENT:
			o.client_name = optarg;
			break;
		case O_HELO:
			o.helo = optarg;
			break;
		case O_FROM:
			o.mail_from = optarg;
			break;
		case O_RCPT:
			if (o.nrcpt == MILTC_MAX_RCPT)
				die_usage("too many recipients", optarg);
			o.rcpt[o.nrcpt++] = optarg;
			break;
		case O_QID:
			o.queue_id = optarg;
			break;
		case O_MACRO:
			parse_macro(&o, optarg);
			break;
		case O_CHUNK:
			if ((v = parse_count(optarg, "bad chunk size")) == 0)
				die_usage("bad chunk size", optarg);
			o.params.chunk = v > MILTER_CLIENT_CHUNK
					     ? MILTER_CLIENT_CHUNK
					     : (size_t)v;
			break;
		case O_ABORT_HDR:
			o.abort_after_headers = true;
			break;
		case O_ABORT_BODY:
			o.abort_after = parse_count(optarg, "bad byte count");
			break;
		case O_CLOSE_BODY:
			o.close_after = parse_count(optarg, "bad byte count");
			break;
		case O_TIMEOUT:
			errno = 0;
			secs = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !(secs > 0 && secs <= 86400))
				die_usage("bad timeout", optarg);
			o.params.timeout_ms = (unsigned int)(secs * 1000);
			if (o.params.timeout_ms == 0)
				o.params.timeout_ms = 1;
			break;
		case O_ACTIONS:
			o.params.actions = parse_hex(optarg, "bad actions");
			break;
		case O_PROTOCOL:
			o.params.protocol = parse_hex(optarg, "bad protocol");
			break;
		case O_NODELAY:
			o.params.nodelay = true;
			break;
		default:
			usage();
		}
	}
	if (o.socket == NULL || optind != argc)
		usage();
	if (o.nrcpt == 0)
		o.rcpt[o.nrcpt++] = "rcpt@mx.test";
	if ((mc = milter_client_new(&o.params)) == NULL) {
		fprintf(stderr, "miltc: out of memory\n");
		return 1;
	}
	rc = run(mc, &o, &err);
	milter_client_free(mc);
	for (i = 0; i < o.nmacro; i++)
		free(o.macro[i].mem);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "miltc: write error on stdout\n");
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, "miltc: %s\n", err.msg);
		return 1;
	}
	return 0;
}
