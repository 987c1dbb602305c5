/* HMAC-SHA256 against RFC 4231 and base64 against RFC 4648. */
#include <string.h>

#include "check.h"
#include "hmac.h"

static void
test_rfc4231_case2(void)
{
	static const char want[] =
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
	unsigned char mac[HMAC_SHA256_LEN];
	char hex[2 * HMAC_SHA256_LEN + 1];
	int i;

	CHECK(hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28,
	    mac) == 0);
	for (i = 0; i < HMAC_SHA256_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	CHECK_STR(hex, want);
}

static void
test_base64(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	struct buf b;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&b);
		buf_adds(&b, ">");
		base64_append(&b, cases[i].in, strlen(cases[i].in));
		CHECK_STR(b.data + 1, cases[i].out);
		CHECK(b.len == 1 + strlen(cases[i].out));
		buf_free(&b);
	}
}

int
main(void)
{
	test_rfc4231_case2();
	test_base64();
	return check_done("hmac");
}
