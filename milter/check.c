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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "conf.h"
#include "dkim_key.h"
#include "dmarc.h"
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
	bool        want_domain; /* domain: one positional DOMAIN */
	const char *domain;
	bool        no_mail;
	bool        json;
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
	    "           [--dns-conf FILE] [--dns-timeout S]\n"
	    "       authmilter-check domain DOMAIN [-c CONF] [--dns-conf "
	    "FILE]\n"
	    "           [--no-mail] [--json]\n",
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
    {"no-mail", no_argument, NULL, 'X'},
    {"json", no_argument, NULL, 'J'},
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
		case 'X':
			o->no_mail = true;
			break;
		case 'J':
			o->json = true;
			break;
		default:
			usage();
		}
	}
	if (o->want_domain) {
		if (optind != argc - 1)
			usage();
		o->domain = argv[optind++];
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

/*
 * domain: audits what DOMAIN publishes, through the daemon's modules.
 */

#define DOM_MAX_FINDINGS 128
#define DOM_MAX_EVENTS   256
/* The client the SPF walk is made for: reserved (RFC 1112 class E), so no
 * mechanism of a sane record matches it and the walk meets every term. */
#define DOM_WALK_IP "240.0.0.1"

struct finding {
	const char *sev;  /* "error", "warning", "ok" */
	const char *area; /* "spf", "dkim", "dmarc" */
	char        subject[320];
	char        msg[400];
	char        fix[400];
};

struct audit {
	struct finding f[DOM_MAX_FINDINGS];
	size_t         n;
	unsigned int   errors;
	/* The SPF walk. */
	struct spf_trace ev[DOM_MAX_EVENTS];
	char             evtext[DOM_MAX_EVENTS][320];
	char             evdom[DOM_MAX_EVENTS][SPF_MAX_DOMAIN + 2];
	char             evtarget[DOM_MAX_EVENTS][SPF_MAX_DOMAIN + 2];
	size_t           nev;
};

static void add(struct audit *a, const char *sev, const char *area,
    const char *subject, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void
add(struct audit *a, const char *sev, const char *area, const char *subject,
    const char *fix, const char *fmt, ...)
{
	struct finding *f;
	va_list         ap;

	if (strcmp(sev, "error") == 0)
		a->errors++;
	if (a->n >= DOM_MAX_FINDINGS)
		return;
	f = &a->f[a->n++];
	f->sev = sev;
	f->area = area;
	str_lcpy(f->subject, subject, sizeof(f->subject));
	str_lcpy(f->fix, fix ? fix : "", sizeof(f->fix));
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
}

static void
on_trace(void *arg, const struct spf_trace *e)
{
	struct audit *a = arg;
	size_t        i = a->nev;

	if (i >= DOM_MAX_EVENTS)
		return;
	a->ev[i] = *e;
	snprintf(a->evtext[i], sizeof(a->evtext[i]), "%.*s",
	    (int)(e->len < 300 ? e->len : 300), e->text ? e->text : "");
	str_lcpy(a->evdom[i], e->domain, sizeof(a->evdom[i]));
	str_lcpy(a->evtarget[i], e->target, sizeof(a->evtarget[i]));
	a->ev[i].text = a->evtext[i];
	a->ev[i].domain = a->evdom[i];
	a->ev[i].target = a->evtarget[i];
	a->ev[i].reason = NULL; /* not kept */
	a->nev++;
}

/* True when the joined record has a term starting at off: an optional
 * qualifier, a mechanism or modifier name, then the end, ' ', ':', '=' or
 * '/' (RFC 7208 4.6.1, 12). */
static bool
term_starts(const char *rec, size_t len, size_t off)
{
	static const char *const names[] = {"all", "include", "a", "mx", "ptr",
	    "ip4", "ip6", "exists", "redirect", "exp"};
	size_t                   i, l;

	if (off < len && strchr("+-~?", rec[off]) != NULL)
		off++;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		l = strlen(names[i]);
		if (l <= len - off && str_ieq(rec + off, l, names[i]) &&
		    (off + l == len || strchr(" :=/", rec[off + l]) != NULL))
			return true;
	}
	return false;
}

/* RFC 7208 3.3: the strings of a record are joined with nothing between
 * them. A string that begins a term right after one that does not end in
 * a space glues two terms together (the mistake of splitting a long record
 * at a space and dropping it). One string cannot hold more than 255
 * octets on the wire (RFC 1035 3.3), so a long record is several. */
static void
audit_spf_strings(struct audit *a, struct dns *dns, const char *dom)
{
	struct dns_answer *ans;
	const char        *str;
	size_t             i, k, len, off, pk;
	char               prev;
	bool               glued;

	if ((ans = dns_lookup(dns, dom, DNS_T_TXT)) == NULL)
		return;
	for (i = 0; i < ans->n; i++) {
		const struct dns_rr *rr = &ans->rr[i];

		if (rr->len < 6 || !str_ieq(rr->data, 6, "v=spf1"))
			continue;
		glued = false;
		prev = ' ';
		pk = 0; /* the string before, from 1 */
		for (k = 0, off = 0; dns_txt_string(rr, k, &str, &len);
		     k++, off += len) {
			if (len == 0)
				continue;
			if (prev != ' ' && str[0] != ' ' &&
			    term_starts(rr->data, rr->len, off)) {
				/* The join, from 20 octets before it. */
				size_t from = off > 20 ? off - 20 : 0;
				size_t show = rr->len - from;
				char   fix[64];

				snprintf(fix, sizeof(fix),
				    "end string %zu with a space", pk);
				add(a, "error", "spf", dom, fix,
				    "string %zu begins \"%.*s\" with no space "
				    "after string %zu: the joined record reads "
				    "\"%.*s\" (RFC 7208 3.3 joins strings as "
				    "they are)",
				    k + 1, (int)(len < 40 ? len : 40), str, pk,
				    (int)(show < 60 ? show : 60),
				    rr->data + from);
				glued = true;
			}
			prev = str[len - 1];
			pk = k + 1;
		}
		if (!glued && k > 1)
			add(a, "ok", "spf", dom, NULL,
			    "record of %zu octets in %zu strings, joined "
			    "without spaces (RFC 7208 3.3)",
			    rr->len, k);
	}
	dns_answer_free(ans);
}

/* The SPF part; returns the qualifier of the record's top-level all
 * ('\0': none). */
static char
audit_spf(struct audit *a, struct dns *dns, const char *dom, bool no_mail)
{
	struct spf_params p = {0};
	struct spf_query *q;
	struct ipaddr     ip;
	enum spf_result   r;
	char              sender[SPF_MAX_DOMAIN + 16], fix[1024];
	const char       *reason;
	unsigned int      terms, voids, ptr_voids = 0;
	char              top_all = '\0';
	bool              loaded = false, redirect = false;
	size_t            i, j;

	p.trace = on_trace;
	p.trace_arg = a;
	if ((q = spf_query_new(dns, &p)) == NULL ||
	    !ipaddr_parse(&ip, DOM_WALK_IP)) {
		fputs("authmilter-check: out of memory\n", stderr);
		exit(1);
	}
	snprintf(sender, sizeof(sender), "postmaster@%s", dom);
	r = spf_check_host(q, &ip, dom, sender, dom);
	reason = spf_reason(q);
	terms = spf_dns_terms(q);
	voids = spf_void_lookups(q);
	if (a->nev > 0 && a->ev[0].kind == SPF_TRACE_RECORD)
		loaded = a->ev[0].result == SPF_PASS;
	if (!loaded) {
		snprintf(fix, sizeof(fix),
		    "publish one TXT \"v=spf1 %s\" at %s",
		    no_mail ? "-all" : "mx -all", dom);
		add(a, "error", "spf", dom, fix, "%s",
		    r == SPF_NONE ? "no v=spf1 record" : reason);
		audit_spf_strings(a, dns, dom);
		spf_query_free(q);
		return '\0';
	}
	if (no_mail && strcasecmp(a->evtext[0], "v=spf1 -all") != 0)
		add(a, "error", "spf", dom, "publish exactly \"v=spf1 -all\"",
		    "the domain sends no mail but its record is \"%s\"",
		    a->evtext[0]);
	for (i = 0; i < a->nev; i++) {
		const struct spf_trace *e = &a->ev[i];
		char                    subj[400];

		if (e->kind != SPF_TRACE_TERM)
			continue;
		snprintf(subj, sizeof(subj), "%s (in %s)", e->text, e->domain);
		if (strcmp(e->mech, "include") == 0 ||
		    strcmp(e->mech, "redirect") == 0) {
			unsigned int last = e->dns_terms;

			for (j = i + 1; j < a->nev; j++) {
				if (a->ev[j].kind != SPF_TRACE_TERM)
					continue;
				/* An include's subtree is below it; a
				 * redirect's is the rest of its level. */
				if (a->ev[j].depth < e->depth ||
				    (a->ev[j].depth == e->depth &&
					strcmp(e->mech, "include") == 0))
					break;
				last = a->ev[j].dns_terms;
			}
			add(a, "ok", "spf", subj, NULL,
			    "%u DNS lookup%s, depth %u",
			    last - e->dns_terms + 1,
			    last - e->dns_terms + 1 == 1 ? "" : "s", e->depth);
			if (strcmp(e->mech, "redirect") == 0 && e->depth == 0)
				redirect = true;
		}
		if (strcmp(e->mech, "ptr") == 0)
			add(a, "warning", "spf", subj,
			    "replace ptr with ip4:/ip6: or a: terms",
			    "ptr is slow and should not be used (RFC 7208 "
			    "5.5)");
		if ((strcmp(e->mech, "a") == 0 || strcmp(e->mech, "mx") == 0) &&
		    e->void_lookup)
			add(a, "warning", "spf", subj,
			    "remove the term or publish the host",
			    "%s does not resolve (a void lookup)", e->target);
		if (strcmp(e->mech, "mx") == 0 && e->mx_noaddr > 0)
			add(a, "warning", "spf", subj,
			    "give every MX host an address, or drop the term",
			    "%u MX host%s of %s without an address",
			    e->mx_noaddr, e->mx_noaddr == 1 ? "" : "s",
			    e->target);
		if (strcmp(e->mech, "all") == 0 && e->depth == 0)
			top_all = e->qual;
	}
	/* The walk's client has no PTR name: a ptr term's void lookup is
	 * the walk's, not the record's. */
	for (i = 0; i < a->nev; i++)
		if (a->ev[i].kind == SPF_TRACE_TERM && a->ev[i].void_lookup &&
		    strcmp(a->ev[i].mech, "ptr") == 0)
			ptr_voids++;
	/* Each domain's record once, the checked one first. */
	for (i = 0; i < a->nev; i++) {
		if (a->ev[i].kind != SPF_TRACE_RECORD)
			continue;
		for (j = 0; j < i; j++)
			if (a->ev[j].kind == SPF_TRACE_RECORD &&
			    strcasecmp(a->ev[j].domain, a->ev[i].domain) == 0)
				break;
		if (j == i)
			audit_spf_strings(a, dns, a->ev[i].domain);
	}
	/* A target that did not answer is the temperror finding below. */
	for (i = 1; i < a->nev; i++)
		if (a->ev[i].kind == SPF_TRACE_RECORD &&
		    a->ev[i].result != SPF_PASS &&
		    a->ev[i].result != SPF_TEMPERROR)
			add(a, "error", "spf", a->ev[i].domain,
			    "publish one valid v=spf1 record there, or drop "
			    "the include",
			    "record of an include/redirect target: %s",
			    spf_result_str(a->ev[i].result));
	if (strncmp(reason, "DNS lookup limit", 16) == 0)
		add(a, "error", "spf", dom,
		    "flatten includes into ip4:/ip6: or drop some",
		    "more than %u DNS lookups (%s)", SPF_MAX_DNS_TERMS, reason);
	else if (terms >= 8)
		add(a, "warning", "spf", dom,
		    "flatten includes into ip4:/ip6: before the limit",
		    "%u of %u DNS lookups", terms, SPF_MAX_DNS_TERMS);
	else
		add(a, "ok", "spf", dom, NULL, "%u of %u DNS lookups", terms,
		    SPF_MAX_DNS_TERMS);
	if (strncmp(reason, "void lookup limit", 17) == 0)
		add(a, "error", "spf", dom, "remove terms that name no host",
		    "more than %u void lookups (%s)", SPF_MAX_VOID, reason);
	else if (voids > ptr_voids)
		add(a, "warning", "spf", dom, "remove terms that name no host",
		    "%u of %u void lookups", voids - ptr_voids, SPF_MAX_VOID);
	if (r == SPF_PERMERROR &&
	    strncmp(reason, "DNS lookup limit", 16) != 0 &&
	    strncmp(reason, "void lookup limit", 17) != 0)
		add(a, "error", "spf", dom, "correct the record",
		    "permerror: %s", reason);
	if (r == SPF_TEMPERROR)
		add(a, "error", "spf", dom, "check the name servers",
		    "temperror: %s", reason);
	if (top_all == '+')
		add(a, "error", "spf", dom, "end the record with -all or ~all",
		    "+all lets every host pass");
	else if (top_all == '?')
		add(a, "warning", "spf", dom,
		    "end the record with -all or ~all",
		    "?all makes every other host neutral");
	else if (top_all == '\0' && !redirect && r != SPF_PERMERROR &&
		 r != SPF_TEMPERROR)
		add(a, "warning", "spf", dom,
		    "end the record with -all or ~all",
		    "no all term: other hosts are neutral");
	spf_query_free(q);
	return top_all;
}

/* The DMARC part; returns the policy that applies to dom. */
static enum dmarc_policy
audit_dmarc(struct audit *a, struct dns *dns, const char *dom, bool no_mail)
{
	const char         *walk[DMARC_MAX_WALK];
	struct dmarc_record rec;
	struct dns_answer  *ans;
	struct dmarc       *dm;
	char                name[DMARC_MAX_NAME + 16], fix[1024];
	size_t              nw, i, k, found;
	enum dmarc_policy   pol = DMARC_POLICY_UNSPEC;
	const char         *at = NULL;

	nw = dmarc_walk(dom, walk);
	for (i = 0; i < nw && at == NULL; i++) {
		snprintf(name, sizeof(name), "_dmarc.%s", walk[i]);
		if ((ans = dns_lookup(dns, name, DNS_T_TXT)) == NULL)
			continue;
		found = 0;
		for (k = 0; ans->status == DNS_OK && k < ans->n; k++) {
			const struct dns_rr *rr = &ans->rr[k];
			struct dmarc_record  r1;

			if (dmarc_record_parse(rr->data, rr->len, &r1) == 0) {
				if (found++ == 0)
					rec = r1;
			} else if (rr->len >= 8 &&
				   str_ieq(rr->data, 8, "v=DMARC1"))
				/* v= not first or not exactly DMARC1:
				 * receivers discard it (RFC 9989). */
				add(a, "error", "dmarc", name,
				    "correct the record: \"v=DMARC1; p=none\" "
				    "and tags separated by \";\"",
				    "record does not parse, so receivers "
				    "ignore it: \"%.200s\"",
				    rr->data);
		}
		dns_answer_free(ans);
		if (found > 1) {
			add(a, "error", "dmarc", name,
			    "keep one v=DMARC1 record", "%zu DMARC records",
			    found);
			return DMARC_POLICY_UNSPEC;
		}
		if (found == 1)
			at = walk[i];
	}
	if (at == NULL) {
		snprintf(fix, sizeof(fix),
		    "publish TXT \"v=DMARC1; p=%s; rua=mailto:dmarc@%s\" at "
		    "_dmarc.%s",
		    no_mail ? "reject" : "none", dom, dom);
		add(a, "error", "dmarc", dom, fix, "no DMARC record");
		return DMARC_POLICY_UNSPEC;
	}
	snprintf(name, sizeof(name), "_dmarc.%s", at);
	pol = strcasecmp(at, dom) == 0 || rec.sp == DMARC_POLICY_UNSPEC
		  ? rec.p
		  : rec.sp;
	add(a, "ok", "dmarc", name, NULL, "record found%s: p=%s sp=%s np=%s",
	    strcasecmp(at, dom) == 0 ? "" : " (tree walk)",
	    rec.p == DMARC_POLICY_UNSPEC ? "-" : dmarc_policy_str(rec.p),
	    rec.sp == DMARC_POLICY_UNSPEC ? "-" : dmarc_policy_str(rec.sp),
	    rec.np == DMARC_POLICY_UNSPEC ? "-" : dmarc_policy_str(rec.np));
	if (rec.bad_policy)
		add(a, "error", "dmarc", name,
		    "p=, sp= and np= take none, quarantine or reject",
		    "invalid policy value");
	if (rec.t_y)
		add(a, "warning", "dmarc", name, "remove t=y when done testing",
		    "t=y: receivers apply a softer policy");
	if (rec.pct >= 0)
		add(a, "warning", "dmarc", name,
		    "remove pct= (use t=y to test)",
		    "pct= was removed in RFC 9989");
	if (no_mail && (rec.p != DMARC_POLICY_REJECT ||
			   (rec.sp != DMARC_POLICY_UNSPEC &&
			       rec.sp != DMARC_POLICY_REJECT)))
		add(a, "error", "dmarc", name, "set p=reject (and sp=reject)",
		    "the domain sends no mail but the policy is not reject");
	if (!rec.rua_valid) {
		snprintf(fix, sizeof(fix), "add rua=mailto:dmarc@%s", dom);
		add(a, "warning", "dmarc", name, fix,
		    "no rua: no aggregate reports");
		return pol;
	}
	if ((dm = dmarc_new(dns, NULL)) == NULL)
		return pol;
	for (const char *p = rec.rua; *p != '\0';) {
		const char *e = strchr(p, ',');
		size_t      len = e ? (size_t)(e - p) : strlen(p);
		char        uri[DMARC_RUA_MAX + 1], *h, *bang;
		const char *u = p;

		p += len + (e != NULL);
		str_trim(&u, &len);
		memcpy(uri, u, len);
		uri[len] = '\0';
		if ((bang = strchr(uri, '!')) != NULL)
			*bang = '\0';
		if ((h = strrchr(uri, '@')) == NULL)
			continue;
		if (dmarc_report_dest(dm, at, h + 1) == DMARC_DEST_EXTERNAL) {
			snprintf(fix, sizeof(fix),
			    "publish TXT \"v=DMARC1\" at %s._report._dmarc.%s",
			    at, h + 1);
			add(a, "warning", "dmarc", uri, fix,
			    "external destination not authorized (RFC 9990 "
			    "3.3): no reports go there");
		}
	}
	dmarc_free(dm);
	return pol;
}

/* YYYYMM of a selector named s/eYYYYMM; 0 otherwise. */
static time_t
selector_date(const char *sel)
{
	struct tm tm = {0};
	int       y, m;

	if ((sel[0] != 's' && sel[0] != 'e') || strlen(sel) != 7 ||
	    strspn(sel + 1, "0123456789") != 6)
		return 0;
	y = atoi(sel + 1) / 100;
	m = atoi(sel + 1) % 100;
	if (m < 1 || m > 12)
		return 0;
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = 1;
	return timegm(&tm);
}

static void
audit_dkim(struct audit *a, struct dns *dns, const struct am_conf *c,
    const char *dom, bool no_mail)
{
	char               name[DNS_MAX_NAME + 16], fix[1024];
	struct dns_answer *ans;
	struct dkim_key    k;
	const char        *why;
	size_t             i, nkeys = 0;
	time_t             born, now = time(NULL);
	struct stat        st;

	if (no_mail) {
		bool revoked = false;

		snprintf(name, sizeof(name), "*._domainkey.%s", dom);
		ans = dns_lookup(dns, name, DNS_T_TXT);
		if (ans != NULL && ans->status == DNS_OK && ans->n == 1) {
			/* An empty p= is the one parse "failure" wanted. */
			if (dkim_key_parse(
				ans->rr[0].data, ans->rr[0].len, &k, &why) == 0)
				dkim_key_clear(&k);
			else
				revoked = strcmp(why, "key revoked") == 0;
		}
		if (!revoked)
			add(a, "error", "dkim", name,
			    "publish TXT \"v=DKIM1; p=\"",
			    "no empty key for a domain that sends no mail");
		dns_answer_free(ans);
	}
	for (i = 0; i < c->dkim.sign.nkeys; i++) {
		const struct conf_key *key = &c->dkim.sign.keys[i];

		if (strcasecmp(key->domain, dom) != 0)
			continue;
		nkeys++;
		snprintf(
		    name, sizeof(name), "%s._domainkey.%s", key->selector, dom);
		snprintf(fix, sizeof(fix),
		    "publish the TXT record authmilter-keygen printed for %s",
		    key->file);
		if ((ans = dns_lookup(dns, name, DNS_T_TXT)) == NULL ||
		    ans->status != DNS_OK || ans->n != 1) {
			if (ans != NULL && ans->status == DNS_TEMPFAIL)
				add(a, "error", "dkim", name,
				    "check the name servers",
				    "lookup failed: %s", ans->why);
			else if (ans != NULL && ans->n > 1) {
				snprintf(fix, sizeof(fix),
				    "keep one record there: the one "
				    "authmilter-keygen printed for %s",
				    key->file);
				add(a, "error", "dkim", name, fix,
				    "%zu key records: one per selector, or "
				    "the result is undefined (RFC 6376 "
				    "3.6.2.2)",
				    ans->n);
			} else
				add(a, "error", "dkim", name, fix,
				    "key not published");
			dns_answer_free(ans);
			continue;
		}
		if (dkim_key_parse(ans->rr[0].data, ans->rr[0].len, &k, &why) !=
		    0) {
			add(a, "error", "dkim", name, fix, "%s", why);
			dns_answer_free(ans);
			continue;
		}
		dns_answer_free(ans);
		if (EVP_PKEY_eq(k.pkey, key->pkey) != 1)
			add(a, "error", "dkim", name, fix,
			    "published p= is not the public half of %s",
			    key->file);
		else if (k.type == DKIM_KEY_RSA)
			add(a, "ok", "dkim", name, NULL,
			    "published, matches %s (RSA, %u bits)", key->file,
			    k.bits);
		else
			add(a, "ok", "dkim", name, NULL,
			    "published, matches %s (Ed25519)", key->file);
		if (k.type == DKIM_KEY_RSA && k.bits < 2048)
			add(a, "error", "dkim", name,
			    "make a 2048-bit key with authmilter-keygen and "
			    "rotate",
			    "RSA key of %u bits: too weak to sign with",
			    k.bits);
		if (k.testing)
			add(a, "warning", "dkim", name,
			    "remove t=y from the record",
			    "t=y: verifiers may ignore failures");
		born = selector_date(key->selector);
		if (born == 0 && stat(key->file, &st) == 0)
			born = st.st_mtime;
		if (born > 0 &&
		    now - born > (time_t)c->dkim.sign.max_key_age_days * 86400)
			add(a, "warning", "dkim", name,
			    "rotate: a new dated key from authmilter-keygen "
			    "first in the row (publish_check), then retire "
			    "this one",
			    "key is %lld days old (max_key_age_days %u)",
			    (long long)((now - born) / 86400),
			    c->dkim.sign.max_key_age_days);
		dkim_key_clear(&k);
	}
	if (nkeys == 0 && !no_mail)
		add(a, "warning", "dkim", dom,
		    "add a key for it to dkim.sign.keys and the table",
		    "no signing key in dkim.sign.keys");
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static int
cmd_domain(int argc, char **argv)
{
	struct opts         o = {0};
	struct msgauth_ctx *ctx;
	struct audit       *a;
	char                dom[MAILADDR_DOMAIN_MAX + 1], all;
	enum dmarc_policy   pol;
	size_t              i;

	o.want_domain = true;
	parse_opts(argc, argv, &o);
	if (!mailaddr_domain_normalize(o.domain, strlen(o.domain), dom)) {
		fprintf(stderr, "authmilter-check: bad domain %s\n", o.domain);
		return 2;
	}
	ctx = make_ctx(&o);
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return 1;
	all = audit_spf(a, msgauth_ctx_dns(ctx), dom, o.no_mail);
	pol = audit_dmarc(a, msgauth_ctx_dns(ctx), dom, o.no_mail);
	/* The guides: ~all while DMARC only monitors or quarantines (a
	 * receiver that rejects on an SPF fail would drop forwarded mail
	 * before DMARC could pass it by DKIM), -all once it rejects. */
	if (all == '~' && pol == DMARC_POLICY_REJECT)
		add(a, "warning", "spf", dom, "end the SPF record with -all",
		    "~all while DMARC is p=reject");
	else if (all == '-' && !o.no_mail &&
		 (pol == DMARC_POLICY_NONE || pol == DMARC_POLICY_QUARANTINE))
		add(a, "warning", "spf", dom,
		    "end the SPF record with ~all until DMARC is p=reject",
		    "-all while DMARC is p=%s: receivers that reject on an "
		    "SPF fail drop forwarded mail before DMARC sees its DKIM "
		    "pass",
		    pol == DMARC_POLICY_NONE ? "none" : "quarantine");
	audit_dkim(
	    a, msgauth_ctx_dns(ctx), msgauth_ctx_conf(ctx), dom, o.no_mail);
	if (o.json)
		fputs("[", stdout);
	for (i = 0; i < a->n; i++) {
		const struct finding *f = &a->f[i];

		if (!o.json) {
			printf("%s %s %s: %s", f->sev, f->area, f->subject,
			    f->msg);
			if (f->fix[0] != '\0')
				printf(" -- fix: %s", f->fix);
			putchar('\n');
			continue;
		}
		printf("%s\n {\"severity\": ", i ? "," : "");
		json_str(f->sev);
		fputs(", \"area\": ", stdout);
		json_str(f->area);
		fputs(", \"subject\": ", stdout);
		json_str(f->subject);
		fputs(", \"message\": ", stdout);
		json_str(f->msg);
		fputs(", \"fix\": ", stdout);
		json_str(f->fix);
		fputs("}", stdout);
	}
	if (o.json)
		fputs("\n]\n", stdout);
	i = a->errors;
	free(a);
	msgauth_ctx_unref(ctx);
	return i > 0 ? 1 : 0;
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
	if (strcmp(argv[1], "domain") == 0)
		return cmd_domain(argc - 1, argv + 1);
	usage();
	return 2;
}
