/*
 * nullfilter: a libmilter filter that does nothing, the benchmark's
 * "protocol floor" and the peer of miltc's own tests.
 *
 *	nullfilter -s SOCKET [-a] [-m] [-k] [-p HEX] [-x STAGE] [-e VERDICT]
 *	    [-l LOGFILE]
 *
 *	-s SOCKET  libmilter socket spec (local:/path, inet:PORT@HOST)
 *	-a         add "X-Nullfilter: yes" at end of message (two writes from
 *	           libmilter, header then verdict: the Nagle stall)
 *	-m         at end of message request one of each modification: insert
 *	           a two-line header at 0, change Subject 1 to "changed", delete
 *	           X-Drop 1, add a header, add and delete a recipient, change
 *	           the sender, replace the body, quarantine
 *	-k         answer the first body chunk with SMFIS_SKIP
 *	-p HEX     negotiate these SMFIP_* protocol flags (xxfi_negotiate);
 *	           stages with an SMFIP_NR_* flag answer SMFIS_NOREPLY
 *	-x STAGE   reject at connect, helo, mail, rcpt, data, header, eoh or
 *	           body
 *	-e VERDICT end of message: accept (default), continue, reject,
 *	           tempfail, discard, reply (550 5.7.1), tempreply (451 4.7.1)
 *	-y LIST    send LIST as the connect-stage macro list (needs -p)
 *	-l LOGFILE append what each callback saw, one line each
 *
 * Every other callback answers SMFIS_CONTINUE. Stops on SIGTERM.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

static bool            opt_add, opt_mods, opt_skip;
static unsigned long   opt_proto;
static bool            opt_negotiate;
static const char     *opt_reject = "";
static const char     *opt_eom = "accept";
static char           *opt_symlist;
static FILE           *log_fp;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

struct conn {
	unsigned long long body, crlf, lf, chunks;
	bool               last_cr;
};

static void log_line(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void
log_line(const char *fmt, ...)
{
	va_list ap;

	if (log_fp == NULL)
		return;
	pthread_mutex_lock(&log_lock);
	va_start(ap, fmt);
	vfprintf(log_fp, fmt, ap);
	va_end(ap);
	fputc('\n', log_fp);
	fflush(log_fp);
	pthread_mutex_unlock(&log_lock);
}

/* Control bytes as \n, \r, \t, \xHH so a value stays on its line. */
static const char *
esc(char *dst, size_t size, const char *s)
{
	size_t        o = 0;
	unsigned char c;

	for (; *s != '\0' && o + 5 < size; s++) {
		c = (unsigned char)*s;
		if (c == '\n')
			o += (size_t)snprintf(dst + o, size - o, "\\n");
		else if (c == '\r')
			o += (size_t)snprintf(dst + o, size - o, "\\r");
		else if (c == '\t')
			o += (size_t)snprintf(dst + o, size - o, "\\t");
		else if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(dst + o, size - o, "\\x%02x", c);
		else
			dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return dst;
}

static void
log_macros(SMFICTX *ctx, const char *stage)
{
	static char *const names[] = {"j", "_", "{daemon_name}",
	    "{client_addr}", "{client_name}", "i", "{mail_addr}", "{rcpt_addr}",
	    "{auth_authen}", "{auth_type}", "{tls_version}"};
	char               buf[1024];
	size_t             i;
	char              *v;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((v = smfi_getsymval(ctx, names[i])) != NULL)
			log_line("macro %s %s=%s", stage, names[i],
			    esc(buf, sizeof(buf), v));
}

static sfsistat
verdict(const char *stage, unsigned long nr_flag)
{
	if (strcmp(opt_reject, stage) == 0)
		return SMFIS_REJECT;
	if (nr_flag != 0 && (opt_proto & nr_flag) != 0)
		return SMFIS_NOREPLY;
	return SMFIS_CONTINUE;
}

static sfsistat
nf_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
    unsigned long f3, unsigned long *pf0, unsigned long *pf1,
    unsigned long *pf2, unsigned long *pf3)
{
	(void)f2;
	(void)f3;
	*pf0 = f0 & (opt_mods ? SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_ADDRCPT |
				    SMFIF_DELRCPT | SMFIF_CHGFROM |
				    SMFIF_CHGBODY | SMFIF_QUARANTINE
			: opt_add ? SMFIF_ADDHDRS
				  : 0);
	*pf1 = f1 & opt_proto;
	*pf2 = 0;
	*pf3 = 0;
	if (opt_symlist != NULL && (f0 & SMFIF_SETSYMLIST) != 0) {
		*pf0 |= SMFIF_SETSYMLIST;
		if (smfi_setsymlist(ctx, SMFIM_CONNECT, opt_symlist) !=
		    MI_SUCCESS)
			return SMFIS_REJECT;
	}
	return SMFIS_CONTINUE;
}

static sfsistat
nf_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	smfi_setpriv(ctx, c);
	log_line("connect %s family=%d", host, sa ? sa->sa_family : -1);
	log_macros(ctx, "connect");
	return verdict("connect", SMFIP_NR_CONN);
}

static sfsistat
nf_helo(SMFICTX *ctx, char *name)
{
	log_line("helo %s", name);
	log_macros(ctx, "helo");
	return verdict("helo", SMFIP_NR_HELO);
}

static sfsistat
nf_envfrom(SMFICTX *ctx, char **argv)
{
	log_line("mail %s", argv[0]);
	log_macros(ctx, "mail");
	return verdict("mail", SMFIP_NR_MAIL);
}

static sfsistat
nf_envrcpt(SMFICTX *ctx, char **argv)
{
	log_line("rcpt %s", argv[0]);
	log_macros(ctx, "rcpt");
	return verdict("rcpt", SMFIP_NR_RCPT);
}

static sfsistat
nf_data(SMFICTX *ctx)
{
	(void)ctx;
	log_line("data");
	return verdict("data", SMFIP_NR_DATA);
}

static sfsistat
nf_header(SMFICTX *ctx, char *name, char *value)
{
	char buf[4096];

	(void)ctx;
	log_line("header %s:%s", name, esc(buf, sizeof(buf), value));
	return verdict("header", SMFIP_NR_HDR);
}

static sfsistat
nf_eoh(SMFICTX *ctx)
{
	log_line("eoh");
	log_macros(ctx, "eoh");
	return verdict("eoh", SMFIP_NR_EOH);
}

static sfsistat
nf_body(SMFICTX *ctx, unsigned char *p, size_t n)
{
	struct conn *c = smfi_getpriv(ctx);
	size_t       i;

	if (c != NULL) {
		for (i = 0; i < n; i++) {
			if (p[i] == '\n' && c->last_cr)
				c->crlf++;
			else if (p[i] == '\n')
				c->lf++;
			c->last_cr = p[i] == '\r';
		}
		c->body += n;
		c->chunks++;
		if (opt_skip)
			return SMFIS_SKIP;
	}
	return verdict("body", SMFIP_NR_BODY);
}

static sfsistat
nf_eom(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	log_macros(ctx, "eom");
	if (c != NULL) {
		log_line("eom body=%llu chunks=%llu crlf=%llu lf=%llu", c->body,
		    c->chunks, c->crlf, c->lf);
		c->body = c->chunks = c->crlf = c->lf = 0;
	}
	if (opt_add && smfi_addheader(ctx, (char *)"X-Nullfilter",
			   (char *)"yes") != MI_SUCCESS)
		return SMFIS_TEMPFAIL;
	if (opt_mods &&
	    (smfi_insheader(ctx, 0, (char *)"X-Ins",
		 (char *)"first line\n\tsecond line") != MI_SUCCESS ||
		smfi_chgheader(ctx, (char *)"Subject", 1, (char *)"changed") !=
		    MI_SUCCESS ||
		smfi_chgheader(ctx, (char *)"X-Drop", 1, NULL) != MI_SUCCESS ||
		smfi_addheader(ctx, (char *)"X-Add", (char *)"added") !=
		    MI_SUCCESS ||
		smfi_addrcpt(ctx, (char *)"<new@mx.test>") != MI_SUCCESS ||
		smfi_delrcpt(ctx, (char *)"<rcpt@mx.test>") != MI_SUCCESS ||
		smfi_chgfrom(ctx, (char *)"<other@client.test>", NULL) !=
		    MI_SUCCESS ||
		smfi_replacebody(ctx, (unsigned char *)"new body\r\n", 10) !=
		    MI_SUCCESS ||
		smfi_quarantine(ctx, (char *)"held by nullfilter") !=
		    MI_SUCCESS))
		return SMFIS_TEMPFAIL;
	if (strcmp(opt_eom, "continue") == 0)
		return SMFIS_CONTINUE;
	if (strcmp(opt_eom, "reject") == 0)
		return SMFIS_REJECT;
	if (strcmp(opt_eom, "tempfail") == 0)
		return SMFIS_TEMPFAIL;
	if (strcmp(opt_eom, "discard") == 0)
		return SMFIS_DISCARD;
	if (strcmp(opt_eom, "reply") == 0) {
		smfi_setreply(ctx, (char *)"550", (char *)"5.7.1",
		    (char *)"nullfilter says no");
		return SMFIS_REJECT;
	}
	if (strcmp(opt_eom, "tempreply") == 0) {
		smfi_setreply(ctx, (char *)"451", (char *)"4.7.1",
		    (char *)"nullfilter says later");
		return SMFIS_TEMPFAIL;
	}
	return SMFIS_ACCEPT;
}

static sfsistat
nf_abort(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c != NULL) {
		log_line("abort body=%llu", c->body);
		c->body = c->chunks = c->crlf = c->lf = 0;
	}
	return SMFIS_CONTINUE;
}

static sfsistat
nf_close(SMFICTX *ctx)
{
	free(smfi_getpriv(ctx));
	smfi_setpriv(ctx, NULL);
	log_line("close");
	return SMFIS_CONTINUE;
}

static sfsistat
nf_unknown(SMFICTX *ctx, const char *cmd)
{
	(void)ctx;
	(void)cmd;
	return SMFIS_CONTINUE;
}

int
main(int argc, char **argv)
{
	struct smfiDesc desc = {
	    .xxfi_name = (char *)"nullfilter",
	    .xxfi_version = SMFI_VERSION,
	    .xxfi_connect = nf_connect,
	    .xxfi_helo = nf_helo,
	    .xxfi_envfrom = nf_envfrom,
	    .xxfi_envrcpt = nf_envrcpt,
	    .xxfi_header = nf_header,
	    .xxfi_eoh = nf_eoh,
	    .xxfi_body = nf_body,
	    .xxfi_eom = nf_eom,
	    .xxfi_abort = nf_abort,
	    .xxfi_close = nf_close,
	    .xxfi_unknown = nf_unknown,
	    .xxfi_data = nf_data,
	};
	char       *sock = NULL;
	const char *logfile = NULL;
	char       *end;
	int         c;

	while ((c = getopt(argc, argv, "ae:kl:mp:s:x:y:")) != -1) {
		switch (c) {
		case 'a':
			opt_add = true;
			break;
		case 'e':
			opt_eom = optarg;
			break;
		case 'k':
			opt_skip = true;
			break;
		case 'l':
			logfile = optarg;
			break;
		case 'm':
			opt_mods = true;
			break;
		case 'p':
			opt_proto = strtoul(optarg, &end, 16);
			if (*end != '\0' || end == optarg) {
				fprintf(
				    stderr, "nullfilter: bad -p %s\n", optarg);
				return 2;
			}
			opt_negotiate = true;
			break;
		case 's':
			sock = optarg;
			break;
		case 'x':
			opt_reject = optarg;
			break;
		case 'y':
			opt_symlist = optarg;
			break;
		default:
			fprintf(stderr, "usage: nullfilter -s SOCKET [-a] [-m] "
					"[-k] [-p HEX] [-x STAGE] [-e VERDICT] "
					"[-y LIST] [-l LOGFILE]\n");
			return 2;
		}
	}
	if (sock == NULL) {
		fprintf(stderr, "nullfilter: -s SOCKET is required\n");
		return 2;
	}
	if (opt_mods)
		desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS |
				  SMFIF_ADDRCPT | SMFIF_DELRCPT |
				  SMFIF_CHGFROM | SMFIF_CHGBODY |
				  SMFIF_QUARANTINE;
	else if (opt_add)
		desc.xxfi_flags = SMFIF_ADDHDRS;
	if (opt_negotiate)
		desc.xxfi_negotiate = nf_negotiate;
	if (logfile != NULL && (log_fp = fopen(logfile, "a")) == NULL) {
		perror(logfile);
		return 1;
	}
	if (smfi_setconn(sock) != MI_SUCCESS ||
	    smfi_register(desc) != MI_SUCCESS ||
	    smfi_opensocket(true) != MI_SUCCESS) {
		fprintf(stderr, "nullfilter: cannot listen on %s\n", sock);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
