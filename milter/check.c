/*
 * authmilter-check: the daemon's engine from the command line.
 *
 *   authmilter-check message [options] < msg.eml
 *	Runs the message through msgauth as the daemon would (inbound unless
 *	the client is a signing source: --ip in sign_networks, --auth with
 *	sign_authenticated, --daemon-name in sign_daemon_names) and prints the
 *	header fields it would add, then "action:
 *accept|quarantine|reject|tempfail". authmilter-check sign -c CONF [--from-ip
 *IP] [--auth USER]
 *	    [--daemon-name NAME] < msg.eml
 *	Runs the message as an outbound one and prints it signed.
 *   authmilter-check spf --ip IP --mail-from ADDR --helo NAME
 *	Prints the SPF result, and "explanation: TEXT" after a fail that has
 *	one.
 *
 * Common options: -c CONF (default: built-in defaults), --dns-conf FILE
 * (an unbound.conf for libunbound, the whole resolver set-up),
 * --dns-timeout SECONDS, --authserv-id ID, --now EPOCH. Input may use CRLF
 * or LF line ends.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "conf.h"
#include "dns.h"
#include "hdr.h"
#include "ipaddr.h"
#include "log.h"
#include "mailaddr.h"
#include "msgauth.h"
#include "spf.h"
#include "str.h"

/* A header section larger than the engine's limit is refused there; the
 * reader needs only a line bound of its own. */
#define CHECK_MAX_FIELD HDR_MAX_BYTES
#define CHECK_CHUNK     65536

struct opts {
	const char *conf;
	const char *dns_conf;
	double      dns_timeout;
	const char *authserv_id;
	long long   now;
	const char *ip;
	const char *helo;
	const char *mail_from;
	const char *auth;
	const char *daemon_name;
};

static void
usage(void)
{
	fputs(
	    "usage: authmilter-check message [-c CONF] [--ip IP] [--helo "
	    "NAME]\n"
	    "           [--mail-from ADDR] [--auth USER] [--daemon-name NAME]\n"
	    "           [--dns-conf FILE]"
	    " [--dns-timeout S] [--authserv-id ID] [--now EPOCH] < msg\n"
	    "       authmilter-check sign -c CONF [--from-ip IP] [--auth "
	    "USER]\n"
	    "           [--daemon-name NAME] < msg\n"
	    "       authmilter-check spf --ip IP --mail-from ADDR --helo NAME\n"
	    "           [--dns-conf FILE] [--dns-timeout S]\n",
	    stderr);
	exit(2);
}

static const struct option long_opts[] = {
    {"dns-conf", required_argument, NULL, 'D'},
    {"dns-timeout", required_argument, NULL, 'T'},
    {"authserv-id", required_argument, NULL, 'A'},
    {"now", required_argument, NULL, 'N'},
    {"ip", required_argument, NULL, 'i'},
    {"from-ip", required_argument, NULL, 'i'},
    {"helo", required_argument, NULL, 'h'},
    {"mail-from", required_argument, NULL, 'm'},
    {"auth", required_argument, NULL, 'u'},
    {"daemon-name", required_argument, NULL, 'n'},
    {NULL, 0, NULL, 0},
};

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	int   ch;
	char *end;

	while ((ch = getopt_long(argc, argv, "c:", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->conf = optarg;
			break;
		case 'D':
			o->dns_conf = optarg;
			break;
		case 'T':
			o->dns_timeout = strtod(optarg, &end);
			if (*end != '\0' || !(o->dns_timeout > 0))
				usage();
			break;
		case 'A':
			o->authserv_id = optarg;
			break;
		case 'N':
			o->now = strtoll(optarg, &end, 10);
			if (*end != '\0' || o->now < 0)
				usage();
			break;
		case 'i':
			o->ip = optarg;
			break;
		case 'h':
			o->helo = optarg;
			break;
		case 'm':
			o->mail_from = optarg;
			break;
		case 'u':
			o->auth = optarg;
			break;
		case 'n':
			o->daemon_name = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL) {
		fputs("authmilter-check: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

/* The config with the command line's overrides, and its context. */
static struct msgauth_ctx *
make_ctx(const struct opts *o)
{
	struct am_err       err;
	struct am_conf     *conf;
	struct msgauth_ctx *ctx;

	conf = o->conf ? conf_load(o->conf, &err) : conf_default();
	if (conf == NULL) {
		fprintf(stderr, "%s\n", o->conf ? err.msg : "out of memory");
		exit(2);
	}
	if (o->dns_conf != NULL) {
		free(conf->dns.unbound_conf);
		conf->dns.unbound_conf = xstrdup(o->dns_conf);
	}
	if (o->dns_timeout > 0)
		conf->dns.timeout = o->dns_timeout;
	if (o->authserv_id != NULL) {
		free(conf->authserv_id);
		conf->authserv_id = xstrdup(o->authserv_id);
	}
	ctx = msgauth_ctx_new(conf, NULL, &err);
	conf_unref(conf);
	if (ctx == NULL) {
		fprintf(stderr, "authmilter-check: %s\n", err.msg);
		exit(1);
	}
	if (o->now > 0)
		msgauth_ctx_set_now(ctx, (time_t)o->now);
	return ctx;
}

/* Reads one line (through LF, or to EOF) into b; false at EOF. */
static bool
read_line(FILE *in, struct buf *b)
{
	int c;

	buf_reset(b);
	while ((c = getc(in)) != EOF) {
		if (buf_append_char(b, (char)c) < 0) {
			fputs(
			    "authmilter-check: header line too long\n", stderr);
			exit(1);
		}
		if (c == '\n')
			break;
	}
	return b->len > 0;
}

static void
chop_eol(struct buf *b)
{
	if (b->len > 0 && b->data[b->len - 1] == '\n')
		b->data[--b->len] = '\0';
	if (b->len > 0 && b->data[b->len - 1] == '\r')
		b->data[--b->len] = '\0';
}

/* Hands one unfolded-by-lines field to the engine as an MTA would: name,
 * and the value after the colon with its line breaks. */
static void
feed_field(struct msgauth *m, struct buf *field, FILE *echo)
{
	char                *colon;
	struct msgauth_reply r;

	if (field->len == 0)
		return;
	if (echo != NULL) {
		fwrite(field->data, 1, field->len, echo);
		fputs("\r\n", echo);
	}
	colon = memchr(field->data, ':', field->len);
	if (colon == NULL) {
		fprintf(stderr, "authmilter-check: not a header field: %.40s\n",
		    field->data);
		buf_reset(field);
		return;
	}
	*colon = '\0';
	msgauth_header(m, field->data, colon + 1, &r);
	buf_reset(field);
}

/* Streams stdin through the engine: the header section field by field,
 * then the body in chunks with every line end made CRLF (what an MTA hands
 * a milter). echo, when set, receives the message as fed. */
static void
feed_message(struct msgauth *m, FILE *in, FILE *echo)
{
	struct buf           line, field;
	struct msgauth_reply r;
	char                 chunk[CHECK_CHUNK + 1];
	size_t               n = 0;
	int                  c, prev = 0;

	buf_init(&line, CHECK_MAX_FIELD);
	buf_init(&field, CHECK_MAX_FIELD);
	while (read_line(in, &line)) {
		chop_eol(&line);
		if (line.len == 0)
			break;
		if (str_iswsp((unsigned char)line.data[0]) && field.len > 0) {
			/* A continuation line: keep the fold. */
			if (buf_append(&field, "\r\n", 2) < 0 ||
			    buf_append(&field, line.data, line.len) < 0) {
				fputs(
				    "authmilter-check: header field too long\n",
				    stderr);
				exit(1);
			}
			continue;
		}
		feed_field(m, &field, echo);
		buf_append(&field, line.data, line.len);
	}
	feed_field(m, &field, echo);
	msgauth_eoh(m, &r);
	if (echo != NULL)
		fputs("\r\n", echo);
	while ((c = getc(in)) != EOF) {
		if (c == '\n' && prev != '\r')
			chunk[n++] = '\r';
		chunk[n++] = (char)c;
		prev = c;
		if (n >= CHECK_CHUNK) {
			msgauth_body(m, chunk, n, &r);
			if (echo != NULL)
				fwrite(chunk, 1, n, echo);
			n = 0;
		}
	}
	if (n > 0) {
		msgauth_body(m, chunk, n, &r);
		if (echo != NULL)
			fwrite(chunk, 1, n, echo);
	}
	buf_free(&line);
	buf_free(&field);
}

/* Prints a field value as it would appear: folds as CRLF+TAB become
 * lines. */
static void
print_field(const char *name, const char *value)
{
	const char *p;

	printf("%s:", name);
	for (p = value; *p != '\0'; p++)
		if (*p != '\r')
			putchar(*p);
	putchar('\n');
}

static int
cmd_message(int argc, char **argv)
{
	struct opts           o = {0};
	struct msgauth_ctx   *ctx;
	struct msgauth       *m;
	struct msgauth_reply  r;
	struct msgauth_result res;
	size_t                i;

	parse_opts(argc, argv, &o);
	ctx = make_ctx(&o);
	if ((m = msgauth_new()) == NULL)
		return 1;
	msgauth_connect(m, "client", o.ip ? o.ip : "192.0.2.1");
	msgauth_daemon_name(m, o.daemon_name);
	msgauth_helo(m, o.helo ? o.helo : "client.example");
	msgauth_mailfrom(m, ctx, o.mail_from ? o.mail_from : "<>", o.auth, &r);
	if (r.verdict != MSGAUTH_CONTINUE) {
		printf("reply: %s %s %s\naction: %s\n", r.code, r.xcode, r.text,
		    msgauth_verdict_str(r.verdict));
		msgauth_free(m);
		msgauth_ctx_unref(ctx);
		return 0;
	}
	feed_message(m, stdin, NULL);
	msgauth_eom(m, &res);
	/* Insertions at the top, last first: print in the resulting order. */
	for (i = res.nedits; i > 0; i--)
		if (res.edit[i - 1].type == MSGAUTH_EDIT_INSERT)
			print_field(
			    res.edit[i - 1].name, res.edit[i - 1].value);
	for (i = 0; i < res.nedits; i++)
		if (res.edit[i].type == MSGAUTH_EDIT_DELETE)
			printf("delete: %s #%zu\n", res.edit[i].name,
			    res.edit[i].index);
	if (res.reply.verdict == MSGAUTH_REJECT ||
	    res.reply.verdict == MSGAUTH_TEMPFAIL)
		printf("reply: %s %s %s\n", res.reply.code, res.reply.xcode,
		    res.reply.text);
	printf("action: %s\n", msgauth_verdict_str(res.reply.verdict));
	msgauth_free(m);
	msgauth_ctx_unref(ctx);
	return 0;
}

/* dkim.sign.publish_check, as the daemon at start: keys whose record is
 * not published are not used, and stderr says why. */
static void
sign_pub_note(void *arg, const struct conf_key *k, enum msgauth_pub st,
    const char *why)
{
	(void)arg;
	if (st != MSGAUTH_PUB_OK)
		fprintf(stderr,
		    "authmilter-check: DKIM key %s (s=%s d=%s): not signing "
		    "with it: %s\n",
		    k->name, k->selector, k->domain, why);
}

static int
cmd_sign(int argc, char **argv)
{
	struct opts           o = {0};
	struct msgauth_ctx   *ctx;
	struct msgauth       *m;
	struct msgauth_reply  r;
	struct msgauth_result res;
	FILE                 *copy;
	char                  buf[CHECK_CHUNK];
	size_t                i, n, signed_n = 0;

	parse_opts(argc, argv, &o);
	if (o.conf == NULL)
		usage();
	ctx = make_ctx(&o);
	if (msgauth_publish_checked(ctx))
		(void)msgauth_publish_check(ctx, sign_pub_note, NULL);
	if ((m = msgauth_new()) == NULL || (copy = tmpfile()) == NULL)
		return 1;
	msgauth_connect(m, "localhost", o.ip ? o.ip : "127.0.0.1");
	msgauth_daemon_name(m, o.daemon_name);
	msgauth_helo(m, "localhost");
	msgauth_mailfrom(m, ctx, o.mail_from ? o.mail_from : "<>", o.auth, &r);
	if (!msgauth_outbound(m)) {
		fprintf(stderr,
		    "authmilter-check: %s is not in sign_networks and "
		    "neither --auth nor a --daemon-name in sign_daemon_names "
		    "was given: nothing to sign\n",
		    o.ip ? o.ip : "127.0.0.1");
		return 1;
	}
	/* The signature goes on top, so the message is kept in a temporary
	 * file until it is known. */
	feed_message(m, stdin, copy);
	msgauth_eom(m, &res);
	for (i = res.nedits; i > 0; i--)
		if (res.edit[i - 1].type == MSGAUTH_EDIT_INSERT) {
			const char *p;

			if (strcasecmp(
				res.edit[i - 1].name, "DKIM-Signature") == 0)
				signed_n++;

			printf("%s:", res.edit[i - 1].name);
			for (p = res.edit[i - 1].value; *p != '\0'; p++) {
				if (*p == '\n' && (p == res.edit[i - 1].value ||
						      p[-1] != '\r'))
					putchar('\r');
				putchar(*p);
			}
			fputs("\r\n", stdout);
		}
	rewind(copy);
	while ((n = fread(buf, 1, sizeof(buf), copy)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(copy);
	/* The message is printed whatever happens, so a pipe loses nothing;
	 * the exit status says whether it was signed. */
	if (res.reply.verdict != MSGAUTH_ACCEPT)
		fprintf(
		    stderr, "authmilter-check: not signed: %s\n", res.summary);
	else if (signed_n == 0)
		fprintf(stderr,
		    "authmilter-check: not signed: no dkim.sign.table row "
		    "matches the From address (%s)\n",
		    res.summary);
	msgauth_free(m);
	msgauth_ctx_unref(ctx);
	return signed_n > 0 && res.reply.verdict == MSGAUTH_ACCEPT ? 0 : 1;
}

/* local@domain of an RFC 5321 path. */
#define CHECK_SENDER_MAX (MAILADDR_PATH_LOCAL_MAX + 1 + MAILADDR_DOMAIN_MAX + 1)

static int
cmd_spf(int argc, char **argv)
{
	struct opts          o = {0};
	struct msgauth_ctx  *ctx;
	struct spf_query    *q;
	struct spf_params    p = {0};
	struct ipaddr        ip;
	enum spf_result      res;
	struct mailaddr_path path;
	enum mailaddr_status st;
	char                 helo[256], helo_norm[MAILADDR_DOMAIN_MAX + 1];
	char                 sender[CHECK_SENDER_MAX];
	const char          *domain, *exp;

	parse_opts(argc, argv, &o);
	if (o.ip == NULL || o.mail_from == NULL || o.helo == NULL)
		usage();
	if (!ipaddr_parse(&ip, o.ip)) {
		fprintf(stderr, "authmilter-check: bad --ip %s\n", o.ip);
		return 2;
	}
	ctx = make_ctx(&o);
	str_lcpy(helo, o.helo, sizeof(helo));
	/* The identities as msgauth_mailfrom() and spf_start() take them from
	 * the MTA: the MAIL FROM is an RFC 5321 path (angle brackets
	 * optional) whose domain is used in its normal form; the null path
	 * (RFC 7208 2.4) checks postmaster@ the HELO name in its normal form;
	 * a path without a usable domain is "none" (RFC 7208 4.3). */
	st = mailaddr_parse_path(o.mail_from, strlen(o.mail_from), &path, NULL);
	if (st == MAILADDR_OK && path.domain_ok) {
		snprintf(
		    sender, sizeof(sender), "%s@%s", path.local, path.domain);
		domain = path.domain_norm;
	} else if (st != MAILADDR_NULL) {
		fprintf(stderr,
		    "authmilter-check: no usable domain in --mail-from %s\n",
		    o.mail_from);
		printf("%s\n", spf_result_str(SPF_NONE));
		msgauth_ctx_unref(ctx);
		return 0;
	} else if (mailaddr_domain_normalize(helo, strlen(helo), helo_norm)) {
		snprintf(sender, sizeof(sender), "postmaster@%s", helo_norm);
		domain = helo_norm;
	} else {
		/* RFC 7208 2.6.1: no domain name to check is "none". */
		fprintf(stderr, "authmilter-check: no usable domain in "
				"--mail-from or --helo\n");
		printf("%s\n", spf_result_str(SPF_NONE));
		msgauth_ctx_unref(ctx);
		return 0;
	}
	p.receiver = msgauth_ctx_conf(ctx)->authserv_id;
	q = spf_query_new(msgauth_ctx_dns(ctx), &p);
	if (q == NULL)
		return 1;
	res = spf_check_host(q, &ip, domain, sender, helo);
	printf("%s\n", spf_result_str(res));
	if (res == SPF_FAIL && (exp = spf_explanation(q)) != NULL)
		printf("explanation: %s\n", exp);
	spf_query_free(q);
	msgauth_ctx_unref(ctx);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	log_set_level(LOG_L_WARNING);
	if (strcmp(argv[1], "message") == 0)
		return cmd_message(argc - 1, argv + 1);
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc - 1, argv + 1);
	if (strcmp(argv[1], "spf") == 0)
		return cmd_spf(argc - 1, argv + 1);
	usage();
	return 2;
}
