#include "loadgen/natsproto.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE 65536

void arq_nats_parser_init(arq_nats_parser_t *p) {
  arq_buf_init(&p->buf);
  p->off = 0;
}

void arq_nats_parser_free(arq_nats_parser_t *p) { arq_buf_free(&p->buf); }

static bool starts(const char *line, size_t len, const char *op) {
  size_t n = strlen(op);
  if (len < n)
    return false;
  for (size_t i = 0; i < n; i++)
    if ((line[i] | 0x20) != (op[i] | 0x20))
      return false;
  return len == n || line[n] == ' ' || line[n] == '\t';
}

/* MSG <subject> <sid> [reply-to] <#bytes>: the subject and the size. */
static int msg_args(const char *a, size_t len, arq_nats_msg_t *m, size_t *size) {
  const char *tok[4];
  size_t tl[4], n = 0;
  for (size_t i = 0; i < len;) {
    while (i < len && (a[i] == ' ' || a[i] == '\t'))
      i++;
    if (i == len)
      break;
    if (n == 4)
      return -1;
    tok[n] = a + i;
    while (i < len && a[i] != ' ' && a[i] != '\t')
      i++;
    tl[n] = (size_t)(a + i - tok[n]);
    n++;
  }
  if (n < 3)
    return -1;
  size_t v = 0;
  for (size_t i = 0; i < tl[n - 1]; i++) {
    if (tok[n - 1][i] < '0' || tok[n - 1][i] > '9' || v > (1u << 30))
      return -1;
    v = v * 10 + (size_t)(tok[n - 1][i] - '0');
  }
  m->subject = tok[0];
  m->subject_len = tl[0];
  *size = v;
  return 0;
}

int arq_nats_parser_feed(arq_nats_parser_t *p, const void *data, size_t len, arq_nats_cb cb,
                         void *ud) {
  arq_buf_append(&p->buf, data, len);
  int rc = 0;
  for (;;) {
    const char *start = p->buf.data + p->off;
    size_t avail = p->buf.len - p->off;
    const char *lf = memchr(start, '\n', avail);
    if (!lf) {
      if (avail > MAX_LINE)
        rc = -1;
      break;
    }
    size_t line_len = (size_t)(lf - start);
    size_t consumed = line_len + 1;
    if (line_len && start[line_len - 1] == '\r')
      line_len--;
    arq_nats_msg_t m = {0};
    if (starts(start, line_len, "MSG")) {
      size_t size;
      m.op = ARQ_NATS_OP_MSG;
      if (msg_args(start + 4, line_len - 4, &m, &size)) {
        rc = -1;
        break;
      }
      if (avail < consumed + size + 2)
        break; /* the payload is still coming */
      m.payload = (const unsigned char *)start + consumed;
      m.payload_len = size;
      consumed += size + 2;
    } else if (starts(start, line_len, "PING")) {
      m.op = ARQ_NATS_OP_PING;
    } else if (starts(start, line_len, "PONG")) {
      m.op = ARQ_NATS_OP_PONG;
    } else if (starts(start, line_len, "+OK")) {
      m.op = ARQ_NATS_OP_OK;
    } else if (starts(start, line_len, "INFO") || starts(start, line_len, "-ERR")) {
      m.op = start[0] == '-' ? ARQ_NATS_OP_ERR : ARQ_NATS_OP_INFO;
      m.arg = line_len > 5 ? start + 5 : start + line_len;
      m.arg_len = line_len > 5 ? line_len - 5 : 0;
    } else {
      rc = -1;
      break;
    }
    p->off += consumed;
    cb(ud, &m);
  }
  /* Compact once the parsed prefix dominates, so the buffer stays the size of a message. */
  if (p->off == p->buf.len) {
    arq_buf_reset(&p->buf);
    p->off = 0;
  } else if (p->off > 4096 && p->off * 2 > p->buf.len) {
    memmove(p->buf.data, p->buf.data + p->off, p->buf.len - p->off);
    p->buf.len -= p->off;
    p->off = 0;
  }
  return rc;
}
