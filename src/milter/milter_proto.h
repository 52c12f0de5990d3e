/*
 * milter_proto.h - the Sendmail milter protocol (version 6) as Postfix
 * speaks it to a filter: framing, command payloads, reply packets
 * (spec/milter.md sections 1-4).
 *
 * Pure: no I/O, no allocation while decoding. The caller keeps received
 * bytes in a buffer and calls milter_decode() until it returns 0; each
 * decoded command points into that buffer (valid until the caller consumes
 * the bytes). Reply builders append whole packets to a `struct buf`.
 */
#ifndef MILTER_MILTER_PROTO_H
#define MILTER_MILTER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

struct buf;

/* Largest accepted packet length (command byte + payload): 2 x 64 KiB. */
#define MILTER_MAX_PACKET (128 * 1024)
/* Largest HTTP request head accepted for the "GET /ping" probe. */
#define MILTER_MAX_PING_HEAD 4096

/* MTA -> filter command bytes. */
enum milter_cmd_code {
	MILTER_CMD_ABORT = 'A',
	MILTER_CMD_BODY = 'B',
	MILTER_CMD_CONNECT = 'C',
	MILTER_CMD_MACRO = 'D',
	MILTER_CMD_BODYEOB = 'E',
	MILTER_CMD_HELO = 'H',
	MILTER_CMD_QUIT_NC = 'K',
	MILTER_CMD_HEADER = 'L',
	MILTER_CMD_MAIL = 'M',
	MILTER_CMD_EOH = 'N',
	MILTER_CMD_OPTNEG = 'O',
	MILTER_CMD_QUIT = 'Q',
	MILTER_CMD_RCPT = 'R',
	MILTER_CMD_DATA = 'T',
	MILTER_CMD_UNKNOWN = 'U',
	/* not a milter byte: an HTTP "GET /ping" probe on the milter port */
	MILTER_CMD_PING = 1,
};

/* Filter -> MTA reply bytes. */
enum milter_reply_code {
	MILTER_R_ADDRCPT = '+',
	MILTER_R_DELRCPT = '-',
	MILTER_R_ACCEPT = 'a',
	MILTER_R_REPLBODY = 'b',
	MILTER_R_CONTINUE = 'c',
	MILTER_R_DISCARD = 'd',
	MILTER_R_CHGFROM = 'e',
	MILTER_R_ADDHEADER = 'h',
	MILTER_R_INSHEADER = 'i',
	MILTER_R_CHGHEADER = 'm',
	MILTER_R_OPTNEG = 'O',
	MILTER_R_PROGRESS = 'p',
	MILTER_R_QUARANTINE = 'q',
	MILTER_R_REJECT = 'r',
	MILTER_R_TEMPFAIL = 't',
	MILTER_R_REPLYCODE = 'y',
};

/* SMFIF_* action flags. */
#define MILTER_ACT_ADDHDRS 0x01u
#define MILTER_ACT_CHGBODY 0x02u
#define MILTER_ACT_ADDRCPT 0x04u
#define MILTER_ACT_DELRCPT 0x08u
#define MILTER_ACT_CHGHDRS 0x10u
#define MILTER_ACT_QUARANTINE 0x20u
#define MILTER_ACT_CHGFROM 0x40u
#define MILTER_ACT_ADDRCPT_PAR 0x80u
#define MILTER_ACT_SETSYMLIST 0x100u

/* SMFIP_* protocol flags we use. */
#define MILTER_P_NR_HDR 0x80u
#define MILTER_P_NR_CONN 0x1000u
#define MILTER_P_NR_HELO 0x2000u
#define MILTER_P_NR_MAIL 0x4000u
#define MILTER_P_NR_RCPT 0x8000u
#define MILTER_P_NR_DATA 0x10000u
#define MILTER_P_NR_UNKN 0x20000u
#define MILTER_P_NR_EOH 0x40000u
#define MILTER_P_NR_BODY 0x80000u
/* What Rspamd answers (spec §4): no reply to anything but O and E. */
#define MILTER_OUR_PROTOCOL 0xFF080u
#define MILTER_OUR_ACTIONS 0x3Fu
#define MILTER_VERSION 6u

/*
 * One decoded command. Views point into the bytes given to milter_decode().
 * Which fields are set depends on `code`:
 *   OPTNEG   version, actions, protocol
 *   MACRO    macro_for; `rest` holds name\0value\0 pairs (milter_next_string)
 *   CONNECT  str1 = hostname, family ('4', '6', 'L', 'U'), port, str2 = address
 *   HELO     str1 = helo name
 *   MAIL     str1 = sender, `rest` = ESMTP args (each NUL-terminated)
 *   RCPT     str1 = recipient, `rest` = ESMTP args
 *   HEADER   str1 = name, str2 = value
 *   BODY, BODYEOB  payload = raw chunk (may be empty for BODYEOB)
 *   UNKNOWN  str1 = the SMTP command
 * `payload` is always the whole payload (after the command byte).
 */
struct milter_cmd {
	int code;
	struct str payload;
	uint32_t version, actions, protocol;
	char macro_for;
	char family;
	uint16_t port;
	struct str str1, str2;
	struct str rest;
};

struct milter_decoder {
	bool seen_packet; /* the ping probe is recognised only first */
};

void milter_decoder_init(struct milter_decoder *d);

/*
 * Decode the first command in data[0..len). Returns 1 with *cmd_r filled
 * and *used_r = bytes it occupied; 0 when more bytes are needed; -1 on a
 * protocol error (zero or oversized length, unknown command byte,
 * malformed payload, non-ping HTTP) with static text in *error_r: the
 * connection must then be closed.
 */
int milter_decode(struct milter_decoder *d, const void *data, size_t len,
    struct milter_cmd *cmd_r, size_t *used_r, const char **error_r);

/*
 * Split the next NUL-terminated string off *rest into *s_r (without the
 * NUL). Returns 1, or 0 when *rest is empty, or -1 when no NUL ends it.
 */
int milter_next_string(struct str *rest, struct str *s_r);

/* Reply builders: append one packet; -1 when the buffer maximum is hit
 * (or a string is too long for a packet). */
int milter_reply_simple(struct buf *out, char code);
int milter_reply_optneg(struct buf *out, uint32_t version, uint32_t actions,
    uint32_t protocol);
/* REPLYCODE "<code> <text>": CR/LF/NUL in `text` become spaces; a '%'
 * is doubled (Sendmail treats the text as a format). */
int milter_reply_code(struct buf *out, const char *code_ext, const char *text);
/* ADDHEADER (no index) */
int milter_reply_addheader(struct buf *out, const char *name, const char *value);
/* INSHEADER or CHGHEADER (code 'i' or 'm') with an index */
int milter_reply_header_at(struct buf *out, char code, uint32_t index,
    const char *name, const char *value);
/* ADDRCPT, DELRCPT, CHGFROM, QUARANTINE: one string payload */
int milter_reply_string(struct buf *out, char code, const char *s);
/* The HTTP answer to a "GET /ping" probe. */
int milter_reply_pong(struct buf *out);

#endif
