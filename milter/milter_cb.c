#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmilter/mfapi.h>

#include "conf.h"
#include "ipaddr.h"
#include "log.h"
#include "milter_cb.h"
#include "msgauth.h"
#include "recorder.h"

/* The report writer, or NULL. cb_rec_lock is held only to queue a row
 * (memory, no I/O), so that a swap knows no callback still uses the old
 * one. */
static pthread_mutex_t  cb_rec_lock = PTHREAD_MUTEX_INITIALIZER;
static struct recorder *cb_rec;

static pthread_mutex_t     cb_ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static struct msgauth_ctx *cb_ctx;
static atomic_uint         cb_txns;  /* transactions in flight */
static atomic_uint         cb_conns; /* connections with a cb_conn */
static atomic_bool         cb_draining;

/* One MTA connection: the engine and the no-reply flags the MTA accepted
 * for stages where we never act (each saves a round trip per header and
 * body chunk). Made at negotiation, or at connect for an MTA that does not
 * negotiate. */
struct cb_conn {
	struct msgauth *m;
	unsigned long   noreply;
	bool            in_txn; /* between MAIL FROM and its end */
};

static void
cb_txn_begin(struct cb_conn *c)
{
	if (!c->in_txn) {
		c->in_txn = true;
		atomic_fetch_add(&cb_txns, 1);
	}
}

static void
cb_txn_end(struct cb_conn *c)
{
	if (c != NULL && c->in_txn) {
		c->in_txn = false;
		atomic_fetch_sub(&cb_txns, 1);
	}
}

static struct cb_conn *
cb_conn_get(SMFICTX *smfi)
{
	struct cb_conn *c = smfi_getpriv(smfi);

	if (c != NULL)
		return c;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->m = msgauth_new()) == NULL) {
		free(c);
		return NULL;
	}
	smfi_setpriv(smfi, c);
	atomic_fetch_add(&cb_conns, 1);
	return c;
}

/* The engine of an established connection; NULL after a failed set-up. */
static struct msgauth *
cb_msgauth(SMFICTX *smfi)
{
	struct cb_conn *c = smfi_getpriv(smfi);

	return c != NULL ? c->m : NULL;
}

static sfsistat
cb_noreply_or(SMFICTX *smfi, unsigned long flag)
{
	struct cb_conn *c = smfi_getpriv(smfi);

	return c != NULL && (c->noreply & flag) ? SMFIS_NOREPLY
						: SMFIS_CONTINUE;
}

void
milter_cb_set_ctx(struct msgauth_ctx *ctx)
{
	struct msgauth_ctx *old;

	pthread_mutex_lock(&cb_ctx_lock);
	old = cb_ctx;
	cb_ctx = ctx;
	pthread_mutex_unlock(&cb_ctx_lock);
	msgauth_ctx_unref(old);
}

struct msgauth_ctx *
milter_cb_get_ctx(void)
{
	struct msgauth_ctx *ctx;

	pthread_mutex_lock(&cb_ctx_lock);
	ctx = cb_ctx ? msgauth_ctx_ref(cb_ctx) : NULL;
	pthread_mutex_unlock(&cb_ctx_lock);
	return ctx;
}

unsigned int
milter_cb_in_flight(void)
{
	return atomic_load(&cb_txns);
}

unsigned int
milter_cb_connections(void)
{
	return atomic_load(&cb_conns);
}

void
milter_cb_drain(void)
{
	atomic_store(&cb_draining, true);
}

/* What an internal failure in the glue (OOM, no context, the MTA refusing
 * a header change) answers: tempfail, whatever on_internal_error says.
 * An accept here would deliver the message without the forged
 * Authentication-Results fields removed; on_internal_error = "accept"
 * applies inside msgauth_eom(), after the removal. */
static sfsistat
cb_internal_error(void)
{
	return SMFIS_TEMPFAIL;
}

/* Hands an SMTP verdict to libmilter. smfi_setreply() reads the text as a
 * format, so '%' must be doubled. */
static sfsistat
cb_reply(SMFICTX *smfi, const struct msgauth_reply *r, sfsistat cont)
{
	char   text[2 * sizeof(r->text)];
	size_t i, o = 0;

	switch (r->verdict) {
	case MSGAUTH_CONTINUE:
		return cont;
	case MSGAUTH_ACCEPT:
	case MSGAUTH_QUARANTINE:
		return SMFIS_ACCEPT;
	case MSGAUTH_REJECT:
	case MSGAUTH_TEMPFAIL:
		break;
	}
	for (i = 0; r->text[i] != '\0' && o + 2 < sizeof(text); i++) {
		if (r->text[i] == '%')
			text[o++] = '%';
		text[o++] = r->text[i];
	}
	text[o] = '\0';
	if (smfi_setreply(smfi, (char *)(uintptr_t)r->code,
		(char *)(uintptr_t)r->xcode, text) != MI_SUCCESS)
		log_msg(LOG_L_WARNING, "smfi_setreply failed for %s %s",
		    r->code, r->xcode);
	return r->verdict == MSGAUTH_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

static sfsistat
cb_negotiate(SMFICTX *smfi, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0, unsigned long *pf1,
    unsigned long *pf2, unsigned long *pf3)
{
	unsigned long want =
	    SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST;
	unsigned long nr = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_RCPT |
			   SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY |
			   SMFIP_NR_UNKN | SMFIP_NR_DATA;
	unsigned long   skip = SMFIP_NOUNKNOWN | SMFIP_NODATA;
	struct cb_conn *c = cb_conn_get(smfi);
	struct msgauth_ctx *ctx = milter_cb_get_ctx();

	/* RCPT TO only for the report's envelope_to: not asked for when
	 * nothing is recorded. */
	if (ctx == NULL || !msgauth_ctx_conf(ctx)->reports.enabled)
		skip |= SMFIP_NORCPT;
	msgauth_ctx_unref(ctx);

	(void)f2;
	(void)f3;
	if (c == NULL) {
		log_msg(LOG_L_ERR, "out of memory at negotiation");
		return SMFIS_REJECT; /* libmilter: stop talking to this MTA */
	}
	*pf0 = f0 & want;
	/* Header values exactly as sent (DKIM hashes them), skip what we never
	 * read, and do not answer stages where we never act. */
	*pf1 = f1 & (SMFIP_HDR_LEADSPC | skip | nr);
	c->noreply = *pf1 & nr;
	*pf2 = 0;
	*pf3 = 0;
	if (f0 & SMFIF_SETSYMLIST) {
		/* {daemon_name}: Postfix sends it at connect by default
		 * (milter_connect_macros); asked for all the same. */
		smfi_setsymlist(smfi, SMFIM_CONNECT, "{daemon_name}");
		smfi_setsymlist(smfi, SMFIM_ENVFROM, "i {auth_authen}");
		smfi_setsymlist(smfi, SMFIM_EOM, "i");
	}
	return SMFIS_CONTINUE;
}

static sfsistat
cb_connect(SMFICTX *smfi, char *hostname, _SOCK_ADDR *sa)
{
	struct cb_conn *c = cb_conn_get(smfi);
	char            addr[IPADDR_STRLEN] = "";

	if (c == NULL) {
		log_msg(LOG_L_ERR, "out of memory at connect");
		return cb_internal_error();
	}
	if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, addr,
		    sizeof(addr));
	else if (sa != NULL && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr,
		    addr, sizeof(addr));
	msgauth_connect(c->m, hostname, addr[0] ? addr : NULL);
	msgauth_daemon_name(c->m, smfi_getsymval(smfi, "{daemon_name}"));
	return cb_noreply_or(smfi, SMFIP_NR_CONN);
}

static sfsistat
cb_helo(SMFICTX *smfi, char *helo)
{
	struct msgauth *m = cb_msgauth(smfi);

	if (m != NULL)
		msgauth_helo(m, helo);
	return cb_noreply_or(smfi, SMFIP_NR_HELO);
}

static sfsistat
cb_envfrom(SMFICTX *smfi, char **argv)
{
	struct cb_conn      *c = smfi_getpriv(smfi);
	struct msgauth      *m = c != NULL ? c->m : NULL;
	struct msgauth_ctx  *ctx;
	struct msgauth_reply r;
	const char          *qid;

	if (atomic_load(&cb_draining)) {
		smfi_setreply(smfi, "421", "4.3.2",
		    "Service shutting down, try again later");
		return SMFIS_TEMPFAIL;
	}
	/* Our reference is never the last one here: msgauth_mailfrom()
	 * takes its own before we drop ours, so the resolver of an old
	 * configuration is never freed (a thread join) in this callback. */
	if (m == NULL || (ctx = milter_cb_get_ctx()) == NULL)
		return cb_internal_error();
	msgauth_mailfrom(m, ctx, argv[0] ? argv[0] : "<>",
	    smfi_getsymval(smfi, "{auth_authen}"), &r);
	msgauth_ctx_unref(ctx);
	if ((qid = smfi_getsymval(smfi, "i")) != NULL)
		msgauth_queue_id(m, qid);
	if (r.verdict != MSGAUTH_CONTINUE)
		log_msg(LOG_L_INFO, "%s: %s %s %s %s", msgauth_log_id(m),
		    msgauth_verdict_str(r.verdict), r.code, r.xcode, r.text);
	else
		cb_txn_begin(c);
	return cb_reply(smfi, &r, SMFIS_CONTINUE);
}

static sfsistat
cb_header(SMFICTX *smfi, char *name, char *value)
{
	struct msgauth      *m = cb_msgauth(smfi);
	struct msgauth_reply r;

	if (m == NULL)
		return cb_internal_error();
	msgauth_header(m, name, value, &r);
	return cb_reply(smfi, &r, cb_noreply_or(smfi, SMFIP_NR_HDR));
}

static sfsistat
cb_eoh(SMFICTX *smfi)
{
	struct msgauth      *m = cb_msgauth(smfi);
	struct msgauth_reply r;

	if (m == NULL)
		return cb_internal_error();
	msgauth_eoh(m, &r);
	return cb_reply(smfi, &r, cb_noreply_or(smfi, SMFIP_NR_EOH));
}

static sfsistat
cb_body(SMFICTX *smfi, unsigned char *p, size_t n)
{
	struct msgauth      *m = cb_msgauth(smfi);
	struct msgauth_reply r;

	if (m == NULL)
		return cb_internal_error();
	msgauth_body(m, p, n, &r);
	return cb_reply(smfi, &r, cb_noreply_or(smfi, SMFIP_NR_BODY));
}

/* RCPT TO: the first recipient's domain is the report's envelope_to. No
 * reply (SMFIP_NR_RCPT), so no round trip. */
static sfsistat
cb_envrcpt(SMFICTX *smfi, char **argv)
{
	struct msgauth *m = cb_msgauth(smfi);

	if (m != NULL && argv != NULL && argv[0] != NULL)
		msgauth_rcpt(m, argv[0]);
	return cb_noreply_or(smfi, SMFIP_NR_RCPT);
}

static void
cb_record(const struct msgauth *m)
{
	const struct report_row *row = msgauth_report(m);

	if (row == NULL)
		return;
	pthread_mutex_lock(&cb_rec_lock);
	if (cb_rec != NULL)
		(void)recorder_push(cb_rec, row); /* a drop is counted there */
	pthread_mutex_unlock(&cb_rec_lock);
}

struct recorder *
milter_cb_set_recorder(struct recorder *r)
{
	struct recorder *old;

	pthread_mutex_lock(&cb_rec_lock);
	old = cb_rec;
	cb_rec = r;
	pthread_mutex_unlock(&cb_rec_lock);
	return old;
}

static sfsistat
cb_eom(SMFICTX *smfi)
{
	struct msgauth       *m = cb_msgauth(smfi);
	struct msgauth_result res;
	const char           *qid;
	size_t                i;
	int                   rc = MI_SUCCESS;

	if (m == NULL)
		return cb_internal_error();
	if ((qid = smfi_getsymval(smfi, "i")) != NULL)
		msgauth_queue_id(m, qid);
	msgauth_eom(m, &res);
	cb_record(m);
	cb_txn_end(smfi_getpriv(smfi));
	for (i = 0; i < res.nedits && rc == MI_SUCCESS; i++) {
		const struct msgauth_edit *e = &res.edit[i];
		char                      *name = (char *)(uintptr_t)e->name;

		if (e->type == MSGAUTH_EDIT_DELETE)
			rc = smfi_chgheader(smfi, name, (int)e->index, NULL);
		else
			rc = smfi_insheader(smfi, (int)e->index, name,
			    (char *)(uintptr_t)e->value);
	}
	if (rc == MI_SUCCESS && res.reply.verdict == MSGAUTH_QUARANTINE)
		rc = smfi_quarantine(
		    smfi, (char *)(uintptr_t)res.quarantine_reason);
	log_msg(LOG_L_INFO, "%s: %s", msgauth_log_id(m), res.summary);
	if (rc != MI_SUCCESS) {
		log_msg(LOG_L_ERR, "%s: the MTA refused a header change",
		    msgauth_log_id(m));
		return cb_internal_error();
	}
	return cb_reply(smfi, &res.reply, SMFIS_ACCEPT);
}

static sfsistat
cb_abort(SMFICTX *smfi)
{
	struct msgauth *m = cb_msgauth(smfi);

	if (m != NULL)
		msgauth_abort(m);
	cb_txn_end(smfi_getpriv(smfi));
	return SMFIS_CONTINUE;
}

static sfsistat
cb_close(SMFICTX *smfi)
{
	struct cb_conn *c = smfi_getpriv(smfi);

	if (c != NULL) {
		cb_txn_end(c);
		msgauth_free(c->m);
		free(c);
		smfi_setpriv(smfi, NULL);
		atomic_fetch_sub(&cb_conns, 1);
	}
	return SMFIS_CONTINUE;
}

struct smfiDesc milter_cb_desc = {
    .xxfi_name = PACKAGE_NAME,
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags =
	SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST,
    .xxfi_connect = cb_connect,
    .xxfi_helo = cb_helo,
    .xxfi_envfrom = cb_envfrom,
    .xxfi_envrcpt = cb_envrcpt,
    .xxfi_header = cb_header,
    .xxfi_eoh = cb_eoh,
    .xxfi_body = cb_body,
    .xxfi_eom = cb_eom,
    .xxfi_abort = cb_abort,
    .xxfi_close = cb_close,
    .xxfi_negotiate = cb_negotiate,
};
