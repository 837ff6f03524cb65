/* Unit tests for the base modules: buf, str, ipaddr, err. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "err.h"
#include "ipaddr.h"
#include "str.h"
#include "test.h"

static void
test_buf(void)
{
	struct buf b;
	char      *p;

	t_case("buf: append and printf");
	buf_init(&b, 0);
	t_assert_str_eq(buf_cstr(&b), "");
	t_assert_int_eq(buf_append_str(&b, "abc"), 0);
	t_assert_int_eq(buf_printf(&b, "-%d-", 42), 0);
	t_assert_str_eq(buf_cstr(&b), "abc-42-");
	t_assert_int_eq(b.len, 7);
	buf_free(&b);

	t_case("buf: the ceiling refuses and keeps the data");
	buf_init(&b, 5);
	t_assert_int_eq(buf_append(&b, "12345", 5), 0);
	t_assert_int_eq(buf_append_char(&b, 'x'), -1);
	t_assert_int_eq(buf_printf(&b, "%s", "y"), -1);
	t_assert_str_eq(buf_cstr(&b), "12345");
	buf_free(&b);

	t_case("buf: a size that would overflow is refused");
	buf_init(&b, (size_t)-1);
	t_assert_int_eq(buf_append_char(&b, 'a'), 0);
	t_assert_int_eq(buf_append(&b, "x", (size_t)-1), -1);
	buf_free(&b);

	t_case("buf: take hands over a C string");
	buf_init(&b, 0);
	p = buf_take(&b);
	t_assert(p != NULL && p[0] == '\0');
	free(p);
	buf_append(&b, "a\0b", 3);
	t_assert_int_eq(b.len, 3);
	p = buf_take(&b);
	t_assert(p != NULL && memcmp(p, "a\0b", 4) == 0);
	t_assert(b.data == NULL && b.len == 0);
	free(p);
}

static void
test_str(void)
{
	char small[8], big[64];

	t_case("str: printable replaces control and 8-bit bytes");
	t_assert_str_eq(
	    str_printable(big, sizeof(big), "a\r\nb\xff", 5), "a??b?");

	t_case("str: printable cuts with an ellipsis");
	t_assert_str_eq(
	    str_printable(small, sizeof(small), "0123456789", 10), "0123...");

	t_case("str: domain comparison ignores case and one trailing dot");
	t_assert(str_domain_eq("Example.COM.", "example.com"));
	t_assert(!str_domain_eq("example.com..", "example.com"));
	t_assert(!str_domain_eq("example.co", "example.com"));

	t_case("str: ieq compares counted strings");
	t_assert(str_ieq("FROM:", 4, "from"));
	t_assert(!str_ieq("FROM", 4, "fro"));
	t_assert(!str_ieq("FRO", 3, "from"));

	t_case("str: lcpy reports truncation");
	t_assert_int_eq(str_lcpy(small, "0123456789", sizeof(small)), 10);
	t_assert_str_eq(small, "0123456");
}

static void
test_ipaddr(void)
{
	struct ipaddr ip;
	struct cidr   c;
	char          s[IPADDR_STRLEN];

	t_case("ipaddr: IPv4 and IPv6 parse");
	t_assert(ipaddr_parse(&ip, "192.0.2.1") && ip.family == AF_INET);
	t_assert(ipaddr_parse(&ip, "2001:db8::1") && ip.family == AF_INET6);
	t_assert(!ipaddr_parse(&ip, "192.0.2"));
	t_assert(!ipaddr_parse(&ip, "192.0.2.256"));
	t_assert(!ipaddr_parse(&ip, "01.2.3.4x"));
	t_assert(!ipaddr_parse(&ip, ""));

	t_case("ipaddr: a mapped IPv6 address is its IPv4 address");
	t_assert(ipaddr_parse(&ip, "::ffff:192.0.2.7") && ip.family == AF_INET);
	t_assert_str_eq(ipaddr_str(&ip, s, sizeof(s)), "192.0.2.7");

	t_case("cidr: prefixes match and bound");
	t_assert(cidr_parse(&c, "10.0.0.0/8"));
	t_assert(ipaddr_parse(&ip, "10.200.1.1") && cidr_match(&c, &ip));
	t_assert(ipaddr_parse(&ip, "11.0.0.1") && !cidr_match(&c, &ip));
	t_assert(cidr_parse(&c, "192.0.2.128/25"));
	t_assert(ipaddr_parse(&ip, "192.0.2.127") && !cidr_match(&c, &ip));
	t_assert(ipaddr_parse(&ip, "192.0.2.128") && cidr_match(&c, &ip));
	t_assert(cidr_parse(&c, "0.0.0.0/0"));
	t_assert(ipaddr_parse(&ip, "203.0.113.9") && cidr_match(&c, &ip));
	t_assert(ipaddr_parse(&ip, "::1") && !cidr_match(&c, &ip));
	t_assert(cidr_parse(&c, "2001:db8::/32"));
	t_assert(ipaddr_parse(&ip, "2001:db8:ffff::1") && cidr_match(&c, &ip));
	t_assert(ipaddr_parse(&ip, "2001:db9::1") && !cidr_match(&c, &ip));
	t_assert(cidr_parse(&c, "::1") && c.prefix == 128);

	t_case("cidr: malformed blocks are refused");
	t_assert(!cidr_parse(&c, "10.0.0.0/33"));
	t_assert(!cidr_parse(&c, "10.0.0.0/"));
	t_assert(!cidr_parse(&c, "10.0.0.0/08"));
	t_assert(!cidr_parse(&c, "10.0.0.0/8x"));
	t_assert(!cidr_parse(&c, "::/129"));
	t_assert(!cidr_parse(&c, "/8"));
	t_assert(!cidr_parse(&c, "example.com/8"));
}

static void
test_err(void)
{
	struct am_err err;

	t_case("err: the message is one printable line");
	t_assert_int_eq(am_err_set(&err, "bad %s", "a\nb"), -1);
	t_assert_str_eq(err.msg, "bad a?b");
	t_assert_int_eq(am_err_set(NULL, "x"), -1);
}

int
main(void)
{
	test_buf();
	test_str();
	test_ipaddr();
	test_err();
	return t_done();
}
