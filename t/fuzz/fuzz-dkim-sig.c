/*
 * libFuzzer target for dkim_verify: the DKIM-Signature tag parser and
 * everything after it (header selection, b= removal, body streams, key
 * checks, the signature check), with the RFC 8463 keys handed in by the
 * lookup hook (selectors starting with "e": Ed25519, else RSA). The input
 * is the field's value. Checks that there is exactly one result, that it
 * is one of the RFC 8601 words with a reason, and that a result other
 * than pass has a non-empty reason.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim_verify.h"
#include "dns.h"
#include "hdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char ed_rec[] =
    "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static char rsa_rec[] =
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTz"
    "WRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3"
    "FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLz"
    "BfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

static const struct dns_answer *
lookup(void *arg, const char *name)
{
	static struct dns_rr     rr;
	static struct dns_answer a;

	(void)arg;
	rr.data = name[0] == 'e' ? ed_rec : rsa_rec;
	rr.len = strlen(rr.data);
	a.status = name[0] == 'n' ? DNS_NXDOMAIN : DNS_OK;
	a.n = a.status == DNS_OK ? 1 : 0;
	a.rr = &rr;
	a.why = "";
	return &a;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_verify_params p = {.now = 1528640000};
	struct hdr_list          *h = hdr_list_new();
	struct dkim_verify       *v;
	const struct dkim_result *r;
	size_t                    i;

	if (h == NULL)
		return 0;
	if (hdr_list_add(h, "DKIM-Signature", 14, (const char *)data, size) <
		0 ||
	    hdr_list_add_raw(h, "From: Joe <joe@football.example.com>", 36) <
		0 ||
	    hdr_list_add_raw(h, "Subject: Is dinner ready?", 25) < 0) {
		hdr_list_free(h);
		return 0;
	}
	if ((v = dkim_verify_new(NULL, &p)) == NULL)
		abort();
	dkim_verify_set_key_lookup(v, lookup, NULL);
	for (i = 0; i < hdr_list_count(h); i++)
		dkim_verify_header(v, hdr_list_get(h, i));
	dkim_verify_eoh(v, h);
	dkim_verify_body(v, "Hi.\r\n\r\nWe lost the game. \r\n", 28);
	dkim_verify_body(v, "\r\n", 2);
	dkim_verify_eom(v, h);
	if (dkim_verify_count(v) != 1)
		abort();
	r = dkim_verify_result(v, 0);
	if (r->status > DKIM_PERMERROR || r->reason == NULL || r->b8 == NULL ||
	    (r->status != DKIM_PASS && r->reason[0] == '\0'))
		abort();
	dkim_verify_free(v);
	hdr_list_free(h);
	return 0;
}
