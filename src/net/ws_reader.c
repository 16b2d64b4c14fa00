/*
 * ws_reader.c — the resumable frame reader (contract and design in ws.h).
 *
 * Every rule is checked at the earliest byte that decides it: opcode, RSV, mask bit and
 * fragmentation rules on the second header byte, sizes once the length field is complete
 * (before any payload is stored), UTF-8 on each chunk of text as it is unmasked.
 */
#include "net/ws.h"

#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

#define ARQ__WS_ERR_DEF(name, code, text) const char arq_ws_err_##name[] = text;
ARQ_WS_ERRORS(ARQ__WS_ERR_DEF)
#undef ARQ__WS_ERR_DEF

enum {
#define ARQ__WS_ERR_CODE(name, code, text) CODE_##name = code,
  ARQ_WS_ERRORS(ARQ__WS_ERR_CODE)
#undef ARQ__WS_ERR_CODE
};

enum { ST_HEADER, ST_PAYLOAD, ST_DONE };

/* Ends the reader with an ERROR event. */
static void fail(arq_ws_reader_t *r, arq_ws_event_t *ev, const char *err, int code) {
  r->_state = ST_DONE;
  ev->type = ARQ_WS_EV_ERROR;
  ev->close_code = (uint16_t)code;
  ev->error = err;
}

void arq_ws_reader_init(arq_ws_reader_t *r, size_t max_message, bool require_mask) {
  memset(r, 0, sizeof *r);
  r->_max_message = max_message;
  r->_require_mask = require_mask;
  r->_state = ST_HEADER;
  r->_hdr_need = 2;
}

void arq_ws_reader_set_inflater(arq_ws_reader_t *r, arq_ws_inflater_t *inf) {
  r->_inflater = inf;
}

void arq_ws_reader_free(arq_ws_reader_t *r) {
  free(r->_msg);
  r->_msg = NULL;
  r->_msg_len = r->_msg_cap = 0;
}

void arq_ws_reader_trim(arq_ws_reader_t *r) {
  if (!r->_in_message)
    arq_ws_reader_free(r);
}

bool arq_ws_close_code_valid(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

/* The first two header bytes: everything but the extended length and the mask key. Returns
 * the error, or NULL. */
static const char *header_start(arq_ws_reader_t *r, int *code) {
  uint8_t b0 = r->_hdr[0], b1 = r->_hdr[1];
  uint8_t op = b0 & 0x0F, len7 = b1 & 0x7F;
  bool masked = (b1 & 0x80) != 0;
  r->_fin = (b0 & 0x80) != 0;
  r->_opcode = op;
#define ERR(name) return (*code = CODE_##name, arq_ws_err_##name)
  /* RSV1 marks a compressed message (permessage-deflate), on its first frame only. */
  if (b0 & 0x30 || (b0 & ARQ_WS_RSV1 && !r->_inflater))
    ERR(rsv);
  if (b0 & ARQ_WS_RSV1 && op != ARQ_WS_OP_TEXT && op != ARQ_WS_OP_BINARY)
    ERR(rsv_compressed);
  if (op != ARQ_WS_OP_CONT && op != ARQ_WS_OP_TEXT && op != ARQ_WS_OP_BINARY &&
      op != ARQ_WS_OP_CLOSE && op != ARQ_WS_OP_PING && op != ARQ_WS_OP_PONG)
    ERR(opcode);
  if (masked != r->_require_mask) {
    if (r->_require_mask)
      ERR(unmasked);
    ERR(masked);
  }
  if (op >= ARQ_WS_OP_CLOSE) {
    if (!r->_fin)
      ERR(control_fragmented);
    if (len7 > ARQ_WS_MAX_CONTROL)
      ERR(control_too_long);
  } else if (op == ARQ_WS_OP_CONT && !r->_in_message) {
    ERR(no_message);
  } else if (op != ARQ_WS_OP_CONT && r->_in_message) {
    ERR(message_in_progress);
  }
#undef ERR
  r->_hdr_need = (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0));
  return NULL;
}

/* The complete header: payload length, mask key, size limit, start of a message. */
static const char *header_done(arq_ws_reader_t *r, int *code) {
  uint8_t len7 = r->_hdr[1] & 0x7F;
  uint64_t len = len7;
  size_t at = 2;
  if (len7 == 126) {
    len = (uint64_t)r->_hdr[2] << 8 | r->_hdr[3];
    at = 4;
  } else if (len7 == 127) {
    if (r->_hdr[2] & 0x80) {
      *code = CODE_length_msb;
      return arq_ws_err_length_msb;
    }
    len = 0;
    for (size_t i = 2; i < 10; i++)
      len = len << 8 | r->_hdr[i];
    at = 10;
  }
  if (r->_hdr[1] & 0x80)
    memcpy(r->_mask, r->_hdr + at, 4);
  if (r->_opcode < ARQ_WS_OP_CLOSE) {
    size_t base = r->_opcode == ARQ_WS_OP_CONT ? r->_msg_len : 0;
    if (len > (uint64_t)(r->_max_message - base)) {
      *code = CODE_too_big;
      return arq_ws_err_too_big;
    }
    if (r->_opcode != ARQ_WS_OP_CONT) {
      r->_in_message = true;
      r->_binary = r->_opcode == ARQ_WS_OP_BINARY;
      r->_compressed = (r->_hdr[0] & ARQ_WS_RSV1) != 0;
      r->_msg_len = 0;
      arq_utf8_init(&r->_utf8);
    }
  } else {
    r->_ctl_len = (uint8_t)len;
  }
  r->_remaining = len;
  r->_frame_off = 0;
  return NULL;
}

/* Room for `more` message bytes; the caller has checked the total against max_message. */
static void reserve(arq_ws_reader_t *r, size_t more) {
  size_t need = r->_msg_len + more;
  if (need <= r->_msg_cap)
    return;
  size_t cap = r->_msg_cap ? r->_msg_cap : 256;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  if (cap > r->_max_message)
    cap = r->_max_message;
  uint8_t *p = realloc(r->_msg, cap);
  if (!p)
    arq_oom("websocket message");
  r->_msg = p;
  r->_msg_cap = cap;
}

/* Takes n payload bytes of the current frame; an error (with *code) on invalid text. */
static const char *take_payload(arq_ws_reader_t *r, const uint8_t *p, size_t n, int *code) {
  uint8_t *dst;
  if (r->_opcode >= ARQ_WS_OP_CLOSE) {
    dst = r->_ctl + r->_frame_off;
  } else {
    reserve(r, n);
    dst = r->_msg + r->_msg_len;
  }
  memcpy(dst, p, n);
  if (r->_hdr[1] & 0x80)
    arq_ws_mask(dst, n, r->_mask, r->_frame_off);
  r->_frame_off += n;
  r->_remaining -= n;
  if (r->_opcode < ARQ_WS_OP_CLOSE) {
    r->_msg_len += n;
    if (!r->_binary && !r->_compressed && !arq_utf8_feed(&r->_utf8, dst, n)) {
      *code = CODE_text_utf8;
      return arq_ws_err_text_utf8;
    }
  }
  return NULL;
}

static const char *close_frame(arq_ws_reader_t *r, arq_ws_event_t *ev, int *code) {
  ev->type = ARQ_WS_EV_CLOSE;
  ev->close_code = 1005;
  ev->data = r->_ctl;
  ev->len = 0;
  r->_state = ST_DONE;
  if (r->_ctl_len == 0)
    return NULL;
  if (r->_ctl_len == 1) {
    *code = CODE_close_length;
    return arq_ws_err_close_length;
  }
  uint16_t c = (uint16_t)(r->_ctl[0] << 8 | r->_ctl[1]);
  if (!arq_ws_close_code_valid(c)) {
    *code = CODE_close_code;
    return arq_ws_err_close_code;
  }
  if (!arq_utf8_valid(r->_ctl + 2, r->_ctl_len - 2u)) {
    *code = CODE_close_utf8;
    return arq_ws_err_close_utf8;
  }
  ev->close_code = c;
  ev->data = r->_ctl + 2;
  ev->len = r->_ctl_len - 2u;
  return NULL;
}

/* A frame is complete: fills *ev when it completes an event; returns an error or NULL. */
static const char *frame_done(arq_ws_reader_t *r, arq_ws_event_t *ev, int *code) {
  r->_state = ST_HEADER;
  r->_hdr_len = 0;
  r->_hdr_need = 2;
  switch (r->_opcode) {
  case ARQ_WS_OP_CLOSE:
    return close_frame(r, ev, code);
  case ARQ_WS_OP_PING:
  case ARQ_WS_OP_PONG:
    ev->type = r->_opcode == ARQ_WS_OP_PING ? ARQ_WS_EV_PING : ARQ_WS_EV_PONG;
    ev->data = r->_ctl;
    ev->len = r->_ctl_len;
    return NULL;
  }
  if (!r->_fin)
    return NULL;
  const uint8_t *data = r->_msg ? r->_msg : (const uint8_t *)"";
  size_t len = r->_msg_len;
  if (r->_compressed) {
    const char *err = arq_ws_inflate(r->_inflater, data, len, r->_max_message, &data, &len);
    if (err) {
      *code = err == arq_ws_err_inflate_too_big ? CODE_inflate_too_big : CODE_inflate_corrupt;
      return err;
    }
    if (!r->_binary && !arq_utf8_valid(data, len)) {
      *code = CODE_text_utf8;
      return arq_ws_err_text_utf8;
    }
    ev->wire_len = r->_msg_len;
  } else if (!r->_binary && !arq_utf8_complete(&r->_utf8)) {
    *code = CODE_text_utf8;
    return arq_ws_err_text_utf8;
  }
  r->_in_message = false;
  ev->type = ARQ_WS_EV_MESSAGE;
  ev->binary = r->_binary;
  ev->data = data;
  ev->len = len;
  return NULL;
}

size_t arq_ws_reader_feed(arq_ws_reader_t *r, const uint8_t *buf, size_t len, arq_ws_event_t *ev) {
  memset(ev, 0, sizeof *ev);
  if (r->_state == ST_DONE)
    return len;
  size_t pos = 0;
  int code = 0;
  const char *err;
  while (pos < len) {
    if (r->_state == ST_HEADER) {
      r->_hdr[r->_hdr_len++] = buf[pos++];
      if (r->_hdr_len == 2 && (err = header_start(r, &code)))
        goto failed;
      if (r->_hdr_len < r->_hdr_need)
        continue;
      if ((err = header_done(r, &code)))
        goto failed;
      r->_state = ST_PAYLOAD;
    } else {
      size_t n = len - pos;
      if (n > r->_remaining)
        n = (size_t)r->_remaining;
      if ((err = take_payload(r, buf + pos, n, &code)))
        goto failed;
      pos += n;
    }
    if (r->_state == ST_PAYLOAD && r->_remaining == 0) {
      if ((err = frame_done(r, ev, &code)))
        goto failed;
      if (ev->type != ARQ_WS_EV_NONE)
        return pos;
    }
  }
  return pos;
failed:
  memset(ev, 0, sizeof *ev);
  fail(r, ev, err, code);
  return pos;
}
