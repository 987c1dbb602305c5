/*
 * The only caller of libcrypto: HMAC-SHA256 and base64, for the Standard
 * Webhooks signature of firer(8) ("sign SECRET").
 */
#ifndef POSTLINE_HMAC_H
#define POSTLINE_HMAC_H

#include <stddef.h>

#include "util.h"

#define HMAC_SHA256_LEN	32

/* mac = HMAC-SHA256(key, data); 0 or -1. */
int	hmac_sha256(const void *key, size_t keylen, const void *data,
	    size_t len, unsigned char mac[HMAC_SHA256_LEN]);
/* Append the base64 (standard alphabet, padded) of data to b. */
void	base64_append(struct buf *b, const void *data, size_t len);

#endif
