/*
 * The wire codec: messages between postline processes and the values
 * stored in LMDB are encoded field by field, big-endian, with lengths in
 * front of strings.  Decoding goes through a bounds-checked cursor that
 * must consume the whole input; any malformed input is an error return,
 * never a crash.
 *
 * Every message starts with an envelope:
 *
 *   u8 protocol version, u8 message type, str sender id,
 *   u64 sequence number, u32 record count
 *
 * The sender id names one sender incarnation (for example
 * "ingest-0/3f9a1c2b7d4e5f60"); the sequence numbers of one sender and
 * one receiver run contiguously from 1, so the receiver can apply each
 * (sender, sequence) exactly once.
 */
#ifndef POSTLINE_WIRE_H
#define POSTLINE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Bump whenever a message type or a body layout changes. */
#define WIRE_VERSION	1

enum msg_type {
	MSG_HITS = 1,	/* ingest -> matcher: a batch of hit records */
	MSG_EVENTS,	/* matcher -> firer: a batch of event records */
	MSG_ACK,	/* receiver -> sender: applied up to seq, verdicts */
	MSG_REPLY,	/* an ack that answers one batch (inbox_ops.reply) */
	MSG_TYPE_END
};

const char *msg_type_name(int type);

#define WIRE_SENDER_MAX	64
/* Largest message any postline process accepts. */
#define WIRE_MSG_MAX	(8 * 1024 * 1024)

struct envelope {
	uint8_t		 version;
	uint8_t		 type;
	char		 sender[WIRE_SENDER_MAX + 1];
	uint64_t	 seq;
	uint32_t	 count;
};

void	wire_put_u8(struct buf *, uint8_t);
void	wire_put_u16(struct buf *, uint16_t);
void	wire_put_u32(struct buf *, uint32_t);
void	wire_put_u64(struct buf *, uint64_t);
void	wire_put_i64(struct buf *, int64_t);
void	wire_put_str(struct buf *, const char *);
void	wire_put_envelope(struct buf *, enum msg_type, const char *sender,
	    uint64_t seq, uint32_t count);

struct wire_reader {
	const unsigned char	*p;
	size_t			 len;
	size_t			 off;
	int			 failed;
};

void	wire_reader_init(struct wire_reader *, const void *, size_t);
int	wire_get_u8(struct wire_reader *, uint8_t *);
int	wire_get_u16(struct wire_reader *, uint16_t *);
int	wire_get_u32(struct wire_reader *, uint32_t *);
int	wire_get_u64(struct wire_reader *, uint64_t *);
int	wire_get_i64(struct wire_reader *, int64_t *);
/* A string without NUL bytes, at most max bytes; newly allocated. */
int	wire_get_str(struct wire_reader *, size_t max, char **);
/* The same into a caller's array of size max + 1. */
int	wire_get_strbuf(struct wire_reader *, char *, size_t max);
/* The same left in place: its bytes (no NUL after them) and length. */
int	wire_get_span(struct wire_reader *, size_t max,
	    const unsigned char **, size_t *);
int	wire_get_envelope(struct wire_reader *, struct envelope *);
/* 0 when every byte was consumed and nothing failed. */
int	wire_done(const struct wire_reader *);

/* Big-endian fixed-width keys that sort in numeric order. */
void	 wire_be64_put(unsigned char *, uint64_t);
uint64_t wire_be64_get(const unsigned char *);

#endif
