/*
 * Unit tests for msgauth: the edits of end of message hold on every path.
 *
 * - 40 forged Authentication-Results fields are all deleted (a fixed
 *   array once kept 32 and let 8 through).
 * - Allocation failures, injected one at a time into every allocation our
 *   code makes on the test thread (malloc, calloc, realloc and strdup are
 *   wrapped with -Wl,--wrap), never deliver a forged field, nor outbound
 *   mail unsigned (unless dkim.sign.on_error = "accept", and then never
 *   without dkim-sign=error in the summary): each run either tempfails or
 *   rejects, or carries every deletion and the signature.
 *
 * - Signatures past the verification budget are counted in the summary
 *   (dkim_over_budget=N) and in the A-R field as dkim=policy.
 *
 * DNS: a libunbound config whose only zone, "test.", is static: every
 * lookup is answered NXDOMAIN at once, without a server, but for the
 * local-data of the budget case's key.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "buf.h"
#include "conf.h"
#include "dkim_key.h"
#include "msgauth.h"
#include "test.h"

#define NFORGED 40
/* More allocations than one message makes: the sweep ends before. */
#define MAX_SWEEP 20000

/* --- allocation failure injection --- */

void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
char *__real_strdup(const char *);
void *__wrap_malloc(size_t);
void *__wrap_calloc(size_t, size_t);
void *__wrap_realloc(void *, size_t);
char *__wrap_strdup(const char *);

static pthread_t     main_thread;
static bool          armed;
static unsigned long ncalls, fail_at;

/* True for the fail_at-th allocation on the test thread while armed (the
 * resolver's and the SPF workers' threads are left alone: their order is
 * not repeatable). */
static bool
fail_now(void)
{
	if (!armed || !pthread_equal(pthread_self(), main_thread))
		return false;
	return ++ncalls == fail_at;
}

void *
__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t a, size_t b)
{
	return fail_now() ? NULL : __real_calloc(a, b);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

char *
__wrap_strdup(const char *s)
{
	return fail_now() ? NULL : __real_strdup(s);
}

/* --- set-up --- */

static char dir[64];

static void
write_file(const char *name, const char *text)
{
	char  path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	chmod(path, 0600);
}

static void
copy_key(const char *srcdir)
{
	char   path[512], key[8192];
	FILE  *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/t/data/msgauth/s1.key", srcdir);
	if ((f = fopen(path, "r")) == NULL) {
		perror(path);
		exit(1);
	}
	n = fread(key, 1, sizeof(key) - 1, f);
	key[n] = '\0';
	fclose(f);
	write_file("s1.key", key);
}

/* An RSA-3072 key with e = 2^64 + 1 (35 cost units a verification):
 * written to DIR/big.key; its key record, as unbound.conf local-data for
 * s1 and s2._domainkey.example.test (strings of at most 255 octets), is
 * appended to out. */
static bool
big_key(struct buf *out)
{
	EVP_PKEY_CTX  *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY      *pk = NULL;
	BIGNUM        *e = BN_new();
	unsigned char *der = NULL;
	struct buf     rec;
	char           path[128];
	FILE          *f;
	int            n, sel;
	size_t         i;

	if (e == NULL || BN_set_bit(e, 64) != 1 || BN_add_word(e, 1) != 1 ||
	    ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 3072) != 1 ||
	    EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) != 1 ||
	    EVP_PKEY_generate(ctx, &pk) != 1)
		return false;
	snprintf(path, sizeof(path), "%s/big.key", dir);
	if ((f = fopen(path, "w")) == NULL)
		return false;
	PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	chmod(path, 0600);
	buf_init(&rec, 0);
	buf_append_str(&rec, "v=DKIM1; k=rsa; p=");
	n = i2d_PUBKEY(pk, &der);
	dkim_base64_encode(der, (size_t)n, &rec);
	for (sel = 1; sel <= 2; sel++) {
		buf_printf(out,
		    "\tlocal-data: 's%d._domainkey.example.test. TXT", sel);
		for (i = 0; i < rec.len; i += 250)
			buf_printf(out, " \"%.*s\"",
			    (int)(rec.len - i < 250 ? rec.len - i : 250),
			    rec.data + i);
		buf_append_str(out, "'\n");
	}
	buf_free(&rec);
	OPENSSL_free(der);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
	BN_free(e);
	return true;
}

static struct msgauth_ctx *
make_ctx(const char *text)
{
	char                path[128];
	struct am_err       err;
	struct am_conf     *conf;
	struct msgauth_ctx *ctx;

	write_file("authmilter.conf", text);
	snprintf(path, sizeof(path), "%s/authmilter.conf", dir);
	if ((conf = conf_load(path, &err)) == NULL) {
		printf("conf_load: %s\n", err.msg);
		exit(1);
	}
	ctx = msgauth_ctx_new(conf, NULL, &err);
	conf_unref(conf);
	if (ctx == NULL) {
		printf("msgauth_ctx_new: %s\n", err.msg);
		exit(1);
	}
	return ctx;
}

/* --- one message --- */

struct outcome {
	enum msgauth_verdict verdict; /* MAIL FROM's when not CONTINUE */
	size_t               ndel, nsig;
	bool                 del_ok;     /* every forged field deleted */
	bool                 sign_error; /* the summary says dkim-sign=error */
};

static const char body[] = "Hello.\r\n";

static void
run(struct msgauth_ctx *ctx, bool outbound, size_t nforged, struct outcome *o)
{
	struct msgauth       *m = msgauth_new();
	struct msgauth_reply  r;
	struct msgauth_result res;
	size_t                i, want, last;

	memset(o, 0, sizeof(*o));
	if (m == NULL)
		abort();
	msgauth_connect(
	    m, "client.test", outbound ? "127.0.0.1" : "192.0.2.66");
	msgauth_helo(m, "client.test");
	armed = true;
	msgauth_mailfrom(m, ctx,
	    outbound ? "<a@example.test>" : "<x@attacker.test>", NULL, &r);
	if (r.verdict != MSGAUTH_CONTINUE) {
		armed = false;
		o->verdict = r.verdict;
		msgauth_free(m);
		return;
	}
	for (i = 0; i < nforged; i++)
		msgauth_header(m, "Authentication-Results",
		    " mx.test; dkim=pass header.d=bank.test", &r);
	msgauth_header(m, "Authentication-Results",
	    " other.test; spf=pass smtp.mailfrom=attacker.test", &r);
	msgauth_header(m, "DKIM-Signature",
	    " v=1; a=rsa-sha256; d=bank.test; s=s1; h=from; bh=AAAA; b=AAAA",
	    &r);
	msgauth_header(
	    m, "From", outbound ? " a@example.test" : " x@attacker.test", &r);
	msgauth_header(m, "Subject", " test", &r);
	msgauth_eoh(m, &r);
	msgauth_body(m, body, sizeof(body) - 1, &r);
	msgauth_eom(m, &res);
	armed = false;
	o->verdict = res.reply.verdict;
	o->sign_error = strstr(res.summary, "dkim-sign=error") != NULL;
	/* Deletions from the last back, the forged ones NFORGED..1 among
	 * them (the foreign field after them may go too: out of memory, the
	 * ours check fails closed). */
	want = nforged;
	last = (size_t)-1;
	for (i = 0; i < res.nedits; i++) {
		const struct msgauth_edit *e = &res.edit[i];

		if (e->type == MSGAUTH_EDIT_DELETE) {
			o->ndel++;
			if (e->index >= last)
				break;
			last = e->index;
			if (want > 0 && e->index == want)
				want--;
		} else if (strcmp(e->name, "DKIM-Signature") == 0)
			o->nsig++;
	}
	o->del_ok = i == res.nedits && want == 0;
	msgauth_free(m);
}

static bool
refused(enum msgauth_verdict v)
{
	return v == MSGAUTH_TEMPFAIL || v == MSGAUTH_REJECT;
}

/* The budget case: a message signed twice (s1, s2) by the RSA-3072 key
 * with e = 2^64 + 1, through the signer, then checked with
 * dkim.max_signatures = 2: a budget of 64 units pays for one (35). */
static void
test_budget(struct msgauth_ctx *sign, struct msgauth_ctx *verify)
{
	static const char *const hdr[][2] = {{"From", " a@example.test"},
	    {"To", " b@mx.test"}, {"Subject", " budget"},
	    {"Date", " Sun, 22 Nov 2026 08:00:00 +0000"}};
	struct msgauth          *m = msgauth_new();
	struct msgauth_reply     r;
	struct msgauth_result    res;
	char                    *sig[2] = {NULL, NULL};
	size_t                   i, nsig = 0;

	t_case("budget: dkim_over_budget counted in the summary");
	msgauth_connect(m, "localhost", "127.0.0.1");
	msgauth_helo(m, "localhost");
	msgauth_mailfrom(m, sign, "<a@example.test>", NULL, &r);
	for (i = 0; i < 4; i++)
		msgauth_header(m, hdr[i][0], hdr[i][1], &r);
	msgauth_eoh(m, &r);
	msgauth_body(m, body, sizeof(body) - 1, &r);
	msgauth_eom(m, &res);
	for (i = 0; i < res.nedits && nsig < 2; i++)
		if (res.edit[i].type == MSGAUTH_EDIT_INSERT &&
		    strcmp(res.edit[i].name, "DKIM-Signature") == 0)
			sig[nsig++] = strdup(res.edit[i].value);
	t_assert_int_eq(nsig, 2);

	msgauth_connect(m, "client.test", "192.0.2.66");
	msgauth_helo(m, "client.test");
	msgauth_mailfrom(m, verify, "<a@example.test>", NULL, &r);
	/* Inserted at the top one after the other: the last edit's field
	 * ends up first. */
	for (i = nsig; i > 0; i--)
		msgauth_header(m, "DKIM-Signature", sig[i - 1], &r);
	for (i = 0; i < 4; i++)
		msgauth_header(m, hdr[i][0], hdr[i][1], &r);
	msgauth_eoh(m, &r);
	msgauth_body(m, body, sizeof(body) - 1, &r);
	msgauth_eom(m, &res);
	if (!t_assert(strstr(res.summary, " dkim_over_budget=1 ") != NULL))
		printf("  summary: %s\n", res.summary);
	t_assert(strstr(res.summary, "dkim=pass header.d=example.test "
				     "header.s=s2 ") != NULL ||
		 strstr(res.summary, "dkim=pass header.d=example.test "
				     "header.s=s1 ") != NULL);
	t_assert(
	    strstr(res.summary, "dkim=policy header.d=example.test") != NULL);
	for (i = 0; i < nsig; i++)
		free(sig[i]);
	msgauth_free(m);
}

/* --- the cases --- */

static void
test_forged(struct msgauth_ctx *in)
{
	struct outcome o;

	t_case("40 forged fields: 40 deletions, from the last back");
	run(in, false, NFORGED, &o);
	t_assert_int_eq(o.verdict, MSGAUTH_ACCEPT);
	t_assert_int_eq(o.ndel, NFORGED);
	t_assert(o.del_ok);

	t_case("1000 fields, 996 forged: every one deleted");
	run(in, false, 996, &o);
	t_assert_int_eq(o.verdict, MSGAUTH_ACCEPT);
	t_assert_int_eq(o.ndel, 996);
	t_assert(o.del_ok);
}

/* Fails each allocation in turn; check(o) says whether the outcome is
 * safe. Returns how many runs were made. */
static unsigned long
sweep(struct msgauth_ctx *ctx, bool outbound, size_t nforged,
    bool (*check)(const struct outcome *), unsigned long *bad_r)
{
	struct outcome o;
	unsigned long  n;

	*bad_r = 0;
	for (n = 1; n <= MAX_SWEEP; n++) {
		ncalls = 0;
		fail_at = n;
		run(ctx, outbound, nforged, &o);
		if (!check(&o)) {
			if (*bad_r == 0)
				printf("  allocation %lu failed: verdict %s, "
				       "%zu deletions, %zu signatures\n",
				    n, msgauth_verdict_str(o.verdict), o.ndel,
				    o.nsig);
			(*bad_r)++;
		}
		if (ncalls < fail_at)
			break; /* nothing failed: every allocation was tried */
	}
	fail_at = 0;
	return n;
}

static bool
inbound_safe(const struct outcome *o)
{
	return refused(o->verdict) || o->del_ok;
}

static bool
outbound_safe(const struct outcome *o)
{
	return refused(o->verdict) || (o->del_ok && o->nsig == 1);
}

static bool
outbound_unsigned_said(const struct outcome *o)
{
	return refused(o->verdict) ||
	       (o->del_ok && (o->nsig == 1 || o->sign_error));
}

static void
test_sweeps(struct msgauth_ctx *in, struct msgauth_ctx *out,
    struct msgauth_ctx *out_accept)
{
	unsigned long runs, bad;

	t_case("inbound, on_internal_error accept: no allocation failure "
	       "delivers a forged field");
	runs = sweep(in, false, 3, inbound_safe, &bad);
	printf("  %lu runs\n", runs);
	t_assert(runs > 10 && runs < MAX_SWEEP);
	t_assert_int_eq(bad, 0);

	t_case("outbound: no allocation failure sends it unsigned");
	runs = sweep(out, true, 3, outbound_safe, &bad);
	printf("  %lu runs\n", runs);
	t_assert(runs > 10 && runs < MAX_SWEEP);
	t_assert_int_eq(bad, 0);

	t_case("outbound, dkim.sign.on_error accept: unsigned only with "
	       "dkim-sign=error");
	runs = sweep(out_accept, true, 3, outbound_unsigned_said, &bad);
	t_assert(runs > 10 && runs < MAX_SWEEP);
	t_assert_int_eq(bad, 0);
}

/* The inbound config base plus a signer with dkim.sign.on_error. */
static void
sign_conf(char *out, size_t size, const char *base, const char *on_error)
{
	snprintf(out, size,
	    "%s"
	    "dkim: { sign: {\n"
	    "\tkeys = ( { name = \"rsa\"; domain = \"example.test\"; "
	    "selector = \"s1\"; algorithm = \"rsa-sha256\"; "
	    "file = \"%s/s1.key\"; } );\n"
	    "\ttable = ( { from = \"*@example.test\"; keys = [\"rsa\"]; } );\n"
	    "\ton_error = \"%s\";\n"
	    "}; };\n",
	    base, dir, on_error);
}

int
main(void)
{
	const char *srcdir =
	    getenv("top_srcdir") ? getenv("top_srcdir") : TOP_SRCDIR;
	char                conf[1024], sign[2048];
	struct msgauth_ctx *in, *out, *out_accept;

	main_thread = pthread_self();
	snprintf(dir, sizeof(dir), "%s", "/tmp/am-msgauth.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	{
		struct buf ub;

		buf_init(&ub, 0);
		buf_append_str(
		    &ub, "server:\n\tlocal-zone: \"test.\" static\n");
		if (!big_key(&ub)) {
			printf("cannot make the RSA-3072 key\n");
			return 1;
		}
		write_file("unbound.conf", buf_cstr(&ub));
		buf_free(&ub);
	}
	copy_key(srcdir);
	snprintf(conf, sizeof(conf),
	    "authserv_id = \"mx.test\";\n"
	    "on_internal_error = \"accept\";\n"
	    "trusted_networks = [\"127.0.0.0/8\"];\n"
	    "dns: { unbound_conf = \"%s/unbound.conf\"; };\n",
	    dir);
	in = make_ctx(conf);
	sign_conf(sign, sizeof(sign), conf, "tempfail");
	out = make_ctx(sign);
	sign_conf(sign, sizeof(sign), conf, "accept");
	out_accept = make_ctx(sign);

	test_forged(in);
	test_sweeps(in, out, out_accept);
	{
		char                big[2048], chk[1024];
		struct msgauth_ctx *bsign, *bverify;

		snprintf(big, sizeof(big),
		    "authserv_id = \"mx.test\";\n"
		    "trusted_networks = [\"127.0.0.0/8\"];\n"
		    "dns: { unbound_conf = \"%s/unbound.conf\"; };\n"
		    "dkim: { sign: {\n"
		    "\tkeys = ( { name = \"k1\"; domain = \"example.test\"; "
		    "selector = \"s1\"; algorithm = \"rsa-sha256\"; "
		    "file = \"%s/big.key\"; },\n"
		    "\t\t{ name = \"k2\"; domain = \"example.test\"; "
		    "selector = \"s2\"; algorithm = \"rsa-sha256\"; "
		    "file = \"%s/big.key\"; } );\n"
		    "\ttable = ( { from = \"*@example.test\"; "
		    "keys = [\"k1\", \"k2\"]; } );\n"
		    "}; };\n",
		    dir, dir, dir);
		bsign = make_ctx(big);
		snprintf(chk, sizeof(chk),
		    "authserv_id = \"mx.test\";\n"
		    "dns: { unbound_conf = \"%s/unbound.conf\"; };\n"
		    "dkim: { max_signatures = 2; };\n",
		    dir);
		bverify = make_ctx(chk);
		test_budget(bsign, bverify);
		msgauth_ctx_unref(bsign);
		msgauth_ctx_unref(bverify);
	}

	msgauth_ctx_unref(in);
	msgauth_ctx_unref(out);
	msgauth_ctx_unref(out_accept);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			printf("could not remove %s\n", dir);
	}
	return t_done();
}
