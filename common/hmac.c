#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hmac.h"

int
hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
    unsigned char mac[HMAC_SHA256_LEN])
{
	unsigned int maclen = 0;

	if (HMAC(EVP_sha256(), key, (int)keylen, data, len, mac,
	    &maclen) == NULL || maclen != HMAC_SHA256_LEN)
		return -1;
	return 0;
}

void
base64_append(struct buf *b, const void *data, size_t len)
{
	size_t need = 4 * ((len + 2) / 3);

	buf_reserve(b, need);
	EVP_EncodeBlock((unsigned char *)b->data + b->len, data, (int)len);
	b->len += need;
	b->data[b->len] = '\0';
}
