/*
 * ws.h — the RFC 6455 WebSocket codec: opening handshake checks, a resumable frame reader
 * and frame writing helpers. No sockets: the event loop feeds bytes in and sends what the
 * writer builds.
 *
 * DESIGN
 *   The reader is a byte-driven state machine (frame header, then payload) that can stop
 *   at any byte and resume with the next read, so a frame split across reads in any way
 *   yields the same events. Sizes are checked against max_message from the frame header,
 *   before a byte of payload is stored; the message buffer grows with the bytes that really
 *   arrive, never with what a header announces, and is reused for the next message. Every
 *   protocol violation is a named error constant (arq_ws_err_*, compared by identity) that
 *   carries the close code the server must send.
 */
#ifndef ARQ_NET_WS_H
#define ARQ_NET_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "net/http.h"
#include "common/utf8.h"

/* ---- opening handshake ---- */

/** Validates a Sec-WebSocket-Key (base64 of exactly 16 bytes) and writes the NUL-terminated
 *  Sec-WebSocket-Accept for it to out. 0, or -1 on an invalid key. */
int arq_ws_accept_key(const char *key, size_t key_len, char out[29]);

/**
 * Checks that a parsed request is a valid WebSocket upgrade: GET, HTTP/1.1, Upgrade holds the
 * token websocket, Connection holds upgrade, one valid Sec-WebSocket-Key, Sec-WebSocket-Version
 * 13. Returns 0, or the HTTP status to answer with a human-readable *problem: 405 for another
 * method, 426 for a missing or other version (the answer must then carry
 * "Sec-WebSocket-Version: 13"), 400 for the rest.
 */
int arq_ws_check_upgrade(const arq_http_request_t *r, const char **problem);

/** Appends the 101 response for a checked upgrade; extra_headers ("Name: v\r\n..." or NULL)
 *  may add e.g. Sec-WebSocket-Protocol. */
void arq_ws_write_upgrade(arq_buf_t *out, const char accept[29], const char *extra_headers);

/* ---- frames ---- */

enum {
  ARQ_WS_OP_CONT = 0x0,
  ARQ_WS_OP_TEXT = 0x1,
  ARQ_WS_OP_BINARY = 0x2,
  ARQ_WS_OP_CLOSE = 0x8,
  ARQ_WS_OP_PING = 0x9,
  ARQ_WS_OP_PONG = 0xA,
};

#define ARQ_WS_MAX_CONTROL 125

/* X(name, close code to send, reason text) */
#define ARQ_WS_ERRORS(X)                                                                        \
  X(rsv, 1002, "reserved bits set without a negotiated extension")                              \
  X(rsv_compressed, 1002, "compressed bit on a control or continuation frame")                 \
  X(opcode, 1002, "unknown opcode")                                                             \
  X(unmasked, 1002, "client frame is not masked")                                               \
  X(masked, 1002, "server frame is masked")                                                     \
  X(control_fragmented, 1002, "fragmented control frame")                                       \
  X(control_too_long, 1002, "control frame payload longer than 125 bytes")                      \
  X(no_message, 1002, "continuation frame without a message in progress")                       \
  X(message_in_progress, 1002, "new data frame while a fragmented message is in progress")      \
  X(length_msb, 1002, "64-bit payload length with the most significant bit set")                \
  X(close_length, 1002, "close payload of one byte")                                            \
  X(close_code, 1002, "invalid close code")                                                     \
  X(close_utf8, 1007, "close reason is not valid UTF-8")                                        \
  X(text_utf8, 1007, "text message is not valid UTF-8")                                         \
  X(too_big, 1009, "message larger than the configured maximum")                               \
  X(inflate_corrupt, 1007, "compressed message is not valid deflate data")                     \
  X(inflate_too_big, 1009, "message inflates past the configured maximum")

#define ARQ__WS_ERR_DECL(name, code, text) extern const char arq_ws_err_##name[];
ARQ_WS_ERRORS(ARQ__WS_ERR_DECL)
#undef ARQ__WS_ERR_DECL

typedef enum {
  ARQ_WS_EV_NONE,
  ARQ_WS_EV_MESSAGE,
  ARQ_WS_EV_PING,
  ARQ_WS_EV_PONG,
  ARQ_WS_EV_CLOSE,
  ARQ_WS_EV_ERROR
} arq_ws_event_type_t;

typedef struct {
  arq_ws_event_type_t type;
  bool binary;         /* MESSAGE: binary rather than text */
  const uint8_t *data; /* MESSAGE, PING, PONG: payload; CLOSE: the reason (without the code) */
  size_t len;
  uint16_t close_code; /* CLOSE: code sent by peer (1005 when none); ERROR: the close code we
                          must send: 1002, 1007 or 1009 */
  const char *error;   /* ERROR: one of arq_ws_err_* */
  size_t wire_len;     /* MESSAGE: compressed bytes when it came compressed (RSV1), else 0 */
} arq_ws_event_t;

typedef struct arq_ws_inflater arq_ws_inflater_t;

typedef struct {
  size_t _max_message;
  bool _require_mask;
  uint8_t _state;
  uint8_t _hdr[14]; /* the frame header as it arrives */
  uint8_t _hdr_len, _hdr_need;
  uint8_t _opcode;
  bool _fin;
  uint8_t _mask[4];
  uint64_t _remaining; /* payload bytes of the current frame still to come */
  size_t _frame_off;   /* payload bytes of the current frame already taken (mask phase) */
  bool _in_message;    /* a data message has started and not finished */
  bool _binary;
  arq_utf8_t _utf8;
  uint8_t *_msg; /* message buffer: grows to the largest message seen, at most max_message */
  size_t _msg_len, _msg_cap;
  uint8_t _ctl[ARQ_WS_MAX_CONTROL];
  uint8_t _ctl_len;
  bool _compressed;                /* the message in progress came with RSV1 */
  arq_ws_inflater_t *_inflater;    /* not owned; NULL: permessage-deflate not negotiated */
} arq_ws_reader_t;

/** require_mask: true on the server (client frames must be masked), false on a client
 *  (server frames must not be). The reader owns no memory until the first message. */
void arq_ws_reader_init(arq_ws_reader_t *r, size_t max_message, bool require_mask);
void arq_ws_reader_free(arq_ws_reader_t *r);
/** Gives the message buffer back to the allocator when no message is in progress (for idle
 *  connections); the next message allocates again. Like a feed, it ends the validity of the
 *  last event's data. */
void arq_ws_reader_trim(arq_ws_reader_t *r);

/** permessage-deflate was negotiated: RSV1 on the first frame of a data message means the
 *  message is compressed, and `inf` (not owned, typically shared by every connection of a
 *  thread) inflates it once complete. */
void arq_ws_reader_set_inflater(arq_ws_reader_t *r, arq_ws_inflater_t *inf);

/**
 * Consumes bytes until an event completes or input ends; returns how many bytes were
 * consumed; *ev gets the event (type NONE if none completed). The caller handles the event
 * and calls again with the remaining bytes. Event data stays valid until the next call.
 * After ERROR or CLOSE the reader refuses further input: later calls discard all of it
 * (returning len, event NONE), so a caller looping until its input is consumed terminates.
 */
size_t arq_ws_reader_feed(arq_ws_reader_t *r, const uint8_t *buf, size_t len, arq_ws_event_t *ev);

/** Writes a frame header to out; returns its length (2 to 14). mask: NULL for server frames,
 *  4 bytes for client frames (the caller then masks the payload with arq_ws_mask). */
size_t arq_ws_frame_header(uint8_t out[14], uint8_t opcode, bool fin, uint64_t payload_len,
                           const uint8_t *mask);
/** Writes a close payload (code in network order, then the reason truncated to fit 125 bytes
 *  at a UTF-8 character boundary; reason may be NULL); returns its length. */
size_t arq_ws_close_payload(uint8_t out[125], uint16_t code, const char *reason);
/** XORs data[0..len) in place with mask, as if data started `offset` bytes into a payload. */
void arq_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset);
/** True for a close code a peer may send (1000-1003, 1007-1014, 3000-4999). */
bool arq_ws_close_code_valid(uint16_t code);

/* ---- permessage-deflate (RFC 7692), ws_deflate.c ----
 *
 * DESIGN
 *   The server always negotiates server_no_context_takeover and client_no_context_takeover:
 *   every message is a deflate stream of its own in both directions. So no zlib state lives
 *   in a connection: one inflater and one deflater per thread serve all of its connections,
 *   reset per message, and a message compressed once is a valid frame for every recipient
 *   that negotiated the extension. A compressed inbound message is stored whole (its
 *   compressed size bounded by max_message like any message) and inflated when its last
 *   frame arrives, into the inflater's buffer, which never grows past the bound: the byte
 *   that would cross it is inflated into a one-byte probe and fails the message with 1009.
 */

#define ARQ_WS_RSV1 0x40 /* first header byte: the message is compressed */

typedef struct {
  bool accepted;               /* the offer was accepted: send `response` */
  uint8_t server_window_bits;  /* 8..15: the client's inflate window (server_max_window_bits) */
  char response[160];          /* "Sec-WebSocket-Extensions: ...\r\n" */
} arq_ws_pmd_t;

/** Reads every Sec-WebSocket-Extensions offer of a request and accepts the first
 *  permessage-deflate offer whose parameters we can honour; offers we cannot (unknown or
 *  repeated parameters, bad values) are declined, never failing the handshake. */
void arq_ws_pmd_negotiate(const arq_http_request_t *r, arq_ws_pmd_t *out);
/** The window our deflater compresses with (and our inflater takes): the largest. */
#define ARQ_WS_PMD_WINDOW_BITS 15
/** Whether a message of `len` bytes, compressed once for everyone, may be sent compressed to a
 *  peer whose window is 2^bits: always with the full window (no distance exceeds ours);
 *  with a smaller one, when the message fits it, since with no context takeover no distance
 *  reaches further back than the message's start. */
static inline bool arq_ws_pmd_fits(uint8_t bits, size_t len) {
  return bits >= ARQ_WS_PMD_WINDOW_BITS || len <= ((size_t)1 << bits);
}

arq_ws_inflater_t *arq_ws_inflater_new(void);
void arq_ws_inflater_free(arq_ws_inflater_t *z);
/** Gives the output buffer back when it grew past `keep` bytes and no message since the
 *  previous call produced more than `keep`: called now and then (a timer), a buffer a large
 *  message grew is freed by the second call after the last such message, while a steady
 *  stream of large messages keeps it instead of reallocating it for each. Returns true when
 *  the buffer holds at most `keep` bytes afterwards (nothing left to trim). */
bool arq_ws_inflater_trim(arq_ws_inflater_t *z, size_t keep);
/** Bytes the output buffer holds now. */
size_t arq_ws_inflater_capacity(const arq_ws_inflater_t *z);
/** Inflates one message (the payload without the 00 00 FF FF tail) into the inflater's
 *  buffer, never holding more than max bytes. NULL with *out and *out_len set, or
 *  arq_ws_err_inflate_too_big or arq_ws_err_inflate_corrupt. *out stays valid until the next
 *  call on z. */
const char *arq_ws_inflate(arq_ws_inflater_t *z, const uint8_t *in, size_t len, size_t max,
                           const uint8_t **out, size_t *out_len);

typedef struct arq_ws_deflater arq_ws_deflater_t;
arq_ws_deflater_t *arq_ws_deflater_new(void);
void arq_ws_deflater_free(arq_ws_deflater_t *d);
/** Compresses one message as a deflate stream of its own, without the 00 00 FF FF tail
 *  (RFC 7692 7.2.1), replacing out's contents. */
void arq_ws_deflate(arq_ws_deflater_t *d, const uint8_t *in, size_t len, arq_buf_t *out);

#endif
