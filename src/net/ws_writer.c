/*
 * ws_writer.c — building frames: headers, close payloads and masking. The payload itself is
 * the caller's (sent from its own buffer with writev, or masked in place by a client).
 */
#include "net/ws.h"

#include <string.h>

size_t arq_ws_frame_header(uint8_t out[14], uint8_t opcode, bool fin, uint64_t payload_len,
                           const uint8_t *mask) {
  size_t n = 2;
  out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
  uint8_t mask_bit = mask ? 0x80 : 0;
  if (payload_len <= 125) {
    out[1] = (uint8_t)(mask_bit | payload_len);
  } else if (payload_len <= 0xFFFF) {
    out[1] = (uint8_t)(mask_bit | 126);
    out[2] = (uint8_t)(payload_len >> 8);
    out[3] = (uint8_t)payload_len;
    n = 4;
  } else {
    out[1] = (uint8_t)(mask_bit | 127);
    for (int i = 0; i < 8; i++)
      out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
    n = 10;
  }
  if (mask) {
    memcpy(out + n, mask, 4);
    n += 4;
  }
  return n;
}

size_t arq_ws_close_payload(uint8_t out[125], uint16_t code, const char *reason) {
  out[0] = (uint8_t)(code >> 8);
  out[1] = (uint8_t)code;
  size_t n = reason ? strlen(reason) : 0;
  if (n > ARQ_WS_MAX_CONTROL - 2) {
    n = ARQ_WS_MAX_CONTROL - 2;
    /* Back up to the lead byte of the character that did not fit, so the reason stays
     * valid UTF-8 (the reader on the other side checks it). */
    while (n > 0 && ((unsigned char)reason[n] & 0xC0) == 0x80)
      n--;
  }
  if (n)
    memcpy(out + 2, reason, n);
  return 2 + n;
}

void arq_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset) {
  uint8_t m[4];
  for (size_t i = 0; i < 4; i++)
    m[i] = mask[(offset + i) & 3];
  size_t i = 0;
  if (len >= 8) {
    uint8_t m8[8] = {m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3]};
    uint64_t key;
    memcpy(&key, m8, 8);
    for (; len - i >= 8; i += 8) {
      uint64_t w;
      memcpy(&w, data + i, 8);
      w ^= key;
      memcpy(data + i, &w, 8);
    }
  }
  for (; i < len; i++)
    data[i] ^= m[i & 3];
}
