/*
 * Unit tests for msgauth's time model (issue 12): no event waits for a
 * check it does not need. With SPF pending on a silent DNS server, abort,
 * close (msgauth_free) and a new MAIL FROM return at once; and the last
 * message of an old configuration does not free that configuration's
 * resolver (a thread join) in its end of message.
 *
 *	test-msgauth DNS_CONF
 *
 * DNS_CONF points libunbound at the loopback server t/unit/msgauth.sh
 * starts, where silent.test is never answered and client.test has an SPF
 * record.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "msgauth.h"
#include "test.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A config with the test resolver and dns.timeout seconds per query. */
static struct am_conf *
load(const char *dns_conf, const char *timeout)
{
	char            path[] = "/tmp/am-test-msgauth.XXXXXX";
	struct am_err   err;
	struct am_conf *c;
	FILE           *f;
	int             fd = mkstemp(path);

	if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
		return NULL;
	fprintf(f,
	    "authserv_id = \"mx.test\";\ntrusted_networks = [];\n"
	    "dns: { unbound_conf = \"%s\"; timeout = %s; };\n",
	    dns_conf, timeout);
	fclose(f);
	c = conf_load(path, &err);
	if (c == NULL)
		printf("  %s\n", err.msg);
	unlink(path);
	return c;
}

static void
begin(struct msgauth *m, struct msgauth_ctx *ctx, const char *from)
{
	struct msgauth_reply r;

	msgauth_connect(m, "client.test", "192.0.2.1");
	msgauth_helo(m, "client.test");
	msgauth_mailfrom(m, ctx, from, NULL, &r);
	t_assert_int_eq(r.verdict, MSGAUTH_CONTINUE);
}

static void
test_no_wait(struct msgauth_ctx *ctx)
{
	struct msgauth       *m;
	struct msgauth_reply  r;
	struct msgauth_result res;
	double                t0;

	t_case("abort with SPF pending returns at once");
	m = msgauth_new();
	begin(m, ctx, "<a@silent.test>");
	msgauth_header(m, "From", " a@silent.test", &r);
	t0 = now();
	msgauth_abort(m);
	t_assert(now() - t0 < 0.2);

	t_case("a new MAIL FROM with SPF pending returns at once");
	begin(m, ctx, "<a@silent.test>");
	t0 = now();
	msgauth_mailfrom(m, ctx, "<b@client.test>", NULL, &r);
	t_assert(now() - t0 < 0.2);
	msgauth_header(m, "From", " b@client.test", &r);
	msgauth_eoh(m, &r);
	msgauth_eom(m, &res);
	t_assert(strstr(res.summary, "spf=pass") != NULL);

	t_case("close (msgauth_free) with SPF pending returns at once");
	begin(m, ctx, "<a@silent.test>");
	t0 = now();
	msgauth_free(m);
	t_assert(now() - t0 < 0.2);
}

/* The message keeps the context (and resolver) it started with; a reload
 * to other DNS settings makes a new resolver, and the old one goes with
 * the message's end. */
static void
test_old_resolver(const char *dns_conf, struct msgauth_ctx *old)
{
	struct am_conf       *c = load(dns_conf, "2.5");
	struct msgauth_ctx   *ctx;
	struct msgauth       *m = msgauth_new();
	struct msgauth_reply  r;
	struct msgauth_result res;
	unsigned long         before = msgauth_dns_freed_aside();
	int                   i;

	t_case("the last message of an old config frees its resolver aside");
	if (!t_assert(c != NULL && m != NULL))
		return;
	ctx = msgauth_ctx_new(c, old, NULL);
	conf_unref(c);
	if (!t_assert(ctx != NULL))
		return;
	t_assert(msgauth_ctx_dns(ctx) != msgauth_ctx_dns(old));
	begin(m, old, "<b@client.test>");
	msgauth_ctx_unref(old); /* the message holds the last reference */
	msgauth_header(m, "From", " b@client.test", &r);
	msgauth_eoh(m, &r);
	msgauth_eom(m, &res);
	t_assert(strstr(res.summary, "spf=pass") != NULL);
	msgauth_free(m);
	for (i = 0; i < 100 && msgauth_dns_freed_aside() == before; i++)
		usleep(20000);
	t_assert_int_eq(msgauth_dns_freed_aside(), before + 1);
	msgauth_ctx_unref(ctx);
}

int
main(int argc, char **argv)
{
	struct am_conf     *c;
	struct msgauth_ctx *ctx;
	struct am_err       err;

	if (argc < 2) {
		fprintf(stderr, "usage: test-msgauth DNS_CONF\n");
		return 2;
	}
	t_case("context");
	if (!t_assert((c = load(argv[1], "3.0")) != NULL))
		return t_done();
	ctx = msgauth_ctx_new(c, NULL, &err);
	conf_unref(c);
	if (!t_assert(ctx != NULL))
		return t_done();
	test_no_wait(ctx);
	test_old_resolver(argv[1], ctx); /* takes ctx */
	return t_done();
}
