/* report: names of RFC 9990's enumerations, and the UTC day. See report.h. */
#include "config.h"

#include <string.h>

#include "report.h"
#include "store.h"

int64_t
report_day(int64_t t)
{
	int64_t d = t / 86400;

	if (t % 86400 < 0)
		d--;
	return d * 86400;
}

static const char *const policy_names[] = {"", "none", "quarantine", "reject"};
static const char *const dis_names[] = {"none", "pass", "quarantine", "reject"};
static const char *const auth_names[] = {"none", "pass", "fail", "softfail",
    "policy", "neutral", "temperror", "permerror"};
static const char *const reason_names[] = {"policy_test_mode", "local_policy",
    "trusted_forwarder", "mailing_list", "other"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *
report_policy_str(enum report_policy p)
{
	return (unsigned)p < NELEM(policy_names) ? policy_names[p] : "";
}

const char *
report_disposition_str(enum report_disposition d)
{
	return (unsigned)d < NELEM(dis_names) ? dis_names[d] : "none";
}

const char *
report_auth_str(enum report_auth a)
{
	return (unsigned)a < NELEM(auth_names) ? auth_names[a] : "none";
}

const char *
report_reason_str(unsigned bit)
{
	size_t i;

	for (i = 0; i < NELEM(reason_names); i++)
		if (bit == 1u << i)
			return reason_names[i];
	return NULL;
}

static int
lookup(const char *const *names, size_t n, const char *s, size_t first)
{
	size_t i;

	for (i = first; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

int
report_policy_parse(const char *s)
{
	return lookup(policy_names, NELEM(policy_names), s, 1);
}

int
report_disposition_parse(const char *s)
{
	return lookup(dis_names, NELEM(dis_names), s, 0);
}

int
report_auth_parse(const char *s)
{
	return lookup(auth_names, NELEM(auth_names), s, 0);
}

int
report_reason_parse(const char *s)
{
	int i = lookup(reason_names, NELEM(reason_names), s, 0);

	return i < 0 ? -1 : 1 << i;
}

/* Here, not in store.c: the config check needs it, and every program
 * links the config without the back ends' libraries. */
bool
store_spec_valid(const char *spec)
{
	if (spec == NULL)
		return false;
	if (strncmp(spec, "sqlite:", 7) == 0)
		return spec[7] == '/' && spec[8] != '\0';
	return strncmp(spec, "postgresql://", 13) == 0 ||
	       strncmp(spec, "postgres://", 11) == 0;
}
