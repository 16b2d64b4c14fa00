/*
 * intmix — a mixed integer workload in the spirit of embedded-CPU benchmarks (written
 * for this repository): per iteration it
 *   - builds a linked list of 200 nodes in an index arena, reverses it, merge-sorts it
 *     by value and looks values up (pointer chasing, unpredictable branches);
 *   - multiplies two 20x20 int32 matrices and reduces the product (nested loops,
 *     multiply-add, indexed loads);
 *   - runs a table-free state machine over 600 bytes of number-like text, classifying
 *     tokens as integer, decimal, exponent or invalid (a switch per byte);
 *   - folds the three results through a bitwise CRC-32 (shifts and conditional xor).
 * Every iteration starts from a different seed, so no part is loop-invariant.
 */
#include "bench.h"

BENCH_SIZE(1000); /* iterations */

static uint32_t lcg(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return *s >> 8;
}

/* ---- linked list --------------------------------------------------------------------- */

#define NODES 200
#define NIL 0xffffu

typedef struct {
  uint16_t next;
  int16_t value;
} node_t;

static node_t arena[NODES];

static uint16_t reverse(uint16_t head) {
  uint16_t prev = NIL;
  while (head != NIL) {
    uint16_t next = arena[head].next;
    arena[head].next = prev;
    prev = head;
    head = next;
  }
  return prev;
}

/* Bottom-up merge sort of the list: runs of width 1, 2, 4, ... merged in place. */
static uint16_t sort(uint16_t head) {
  for (uint32_t width = 1;; width *= 2) {
    uint16_t p = head, tail = NIL;
    uint32_t merges = 0;
    head = NIL;
    while (p != NIL) {
      merges++;
      uint16_t q = p;
      uint32_t psize = 0, qsize = width;
      while (psize < width && q != NIL) {
        psize++;
        q = arena[q].next;
      }
      while (psize > 0 || (qsize > 0 && q != NIL)) {
        uint16_t e;
        if (psize == 0) {
          e = q, q = arena[q].next, qsize--;
        } else if (qsize == 0 || q == NIL || arena[p].value <= arena[q].value) {
          e = p, p = arena[p].next, psize--;
        } else {
          e = q, q = arena[q].next, qsize--;
        }
        if (tail == NIL)
          head = e;
        else
          arena[tail].next = e;
        tail = e;
      }
      p = q;
    }
    arena[tail].next = NIL;
    if (merges <= 1)
      return head;
  }
}

static uint32_t list_work(uint32_t seed) {
  uint16_t head = NIL;
  for (uint16_t i = 0; i < NODES; i++) {
    arena[i].value = (int16_t)(lcg(&seed) & 0x7fff) - 0x4000;
    arena[i].next = head;
    head = i;
  }
  head = reverse(head);
  uint32_t sum = 0, pos = 0;
  for (uint16_t p = head; p != NIL; p = arena[p].next)
    sum = sum * 31u + (uint16_t)arena[p].value * ++pos;
  head = sort(head);
  /* Sorted order check folded into the sum, then a few searches by value. */
  int16_t last = -0x8000;
  for (uint16_t p = head; p != NIL; p = arena[p].next) {
    sum += arena[p].value >= last;
    last = arena[p].value;
  }
  for (uint32_t k = 0; k < 16; k++) {
    int16_t want = arena[(seed + k * 7) % NODES].value;
    uint32_t steps = 0;
    for (uint16_t p = head; p != NIL && arena[p].value < want; p = arena[p].next)
      steps++;
    sum += steps;
  }
  return sum;
}

/* ---- matrix multiply ----------------------------------------------------------------- */

#define DIM 20

static int32_t ma[DIM][DIM], mb[DIM][DIM], mc[DIM][DIM];

static uint32_t matrix_work(uint32_t seed) {
  for (int i = 0; i < DIM; i++)
    for (int j = 0; j < DIM; j++) {
      ma[i][j] = (int32_t)(lcg(&seed) % 201u) - 100;
      mb[i][j] = (int32_t)(lcg(&seed) % 201u) - 100;
    }
  for (int i = 0; i < DIM; i++)
    for (int j = 0; j < DIM; j++) {
      int32_t acc = 0;
      for (int k = 0; k < DIM; k++)
        acc += ma[i][k] * mb[k][j];
      mc[i][j] = acc;
    }
  uint32_t sum = 0;
  for (int i = 0; i < DIM; i++)
    for (int j = 0; j < DIM; j++)
      sum = (sum << 3 | sum >> 29) ^ (uint32_t)(mc[i][j] + (i == j ? mc[j][i] : 0));
  return sum;
}

/* ---- state machine --------------------------------------------------------------------- */

#define TEXT 600

static uint8_t text[TEXT];

enum { S_START, S_SIGN, S_INT, S_DOT, S_FRAC, S_EXP, S_EXP_SIGN, S_EXP_INT, S_BAD };

static uint32_t scan_work(uint32_t seed) {
  static const char alphabet[] = "0123456789012345+-..eE,, x";
  for (int i = 0; i < TEXT; i++)
    text[i] = (uint8_t)alphabet[lcg(&seed) % (sizeof alphabet - 1)];
  uint32_t counts[4] = {0, 0, 0, 0}, transitions = 0;
  int state = S_START;
  for (int i = 0; i <= TEXT; i++) {
    uint8_t c = i < TEXT ? text[i] : ',';
    int digit = c >= '0' && c <= '9';
    int next;
    if (c == ',' || c == ' ') {
      /* End of token: classify by the state it ended in. */
      switch (state) {
      case S_INT: counts[0]++; break;
      case S_FRAC: counts[1]++; break;
      case S_EXP_INT: counts[2]++; break;
      case S_START: break;
      default: counts[3]++; break;
      }
      next = S_START;
    } else {
      switch (state) {
      case S_START: next = digit ? S_INT : (c == '+' || c == '-') ? S_SIGN : S_BAD; break;
      case S_SIGN: next = digit ? S_INT : S_BAD; break;
      case S_INT: next = digit ? S_INT : c == '.' ? S_DOT : (c == 'e' || c == 'E') ? S_EXP : S_BAD; break;
      case S_DOT: next = digit ? S_FRAC : S_BAD; break;
      case S_FRAC: next = digit ? S_FRAC : (c == 'e' || c == 'E') ? S_EXP : S_BAD; break;
      case S_EXP: next = digit ? S_EXP_INT : (c == '+' || c == '-') ? S_EXP_SIGN : S_BAD; break;
      case S_EXP_SIGN: next = digit ? S_EXP_INT : S_BAD; break;
      case S_EXP_INT: next = digit ? S_EXP_INT : S_BAD; break;
      default: next = S_BAD; break;
      }
    }
    transitions += next != state;
    state = next;
  }
  return (counts[0] | counts[1] << 8 | counts[2] << 16 | counts[3] << 24) ^ transitions;
}

/* ---- CRC-32 (reflected, polynomial 0xEDB88320), bit by bit ---------------------------- */

static uint32_t crc32_word(uint32_t crc, uint32_t word) {
  for (int byte = 0; byte < 4; byte++) {
    crc ^= (word >> (8 * byte)) & 0xffu;
    for (int bit = 0; bit < 8; bit++)
      crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return crc;
}

EXPORT(run) uint32_t run(uint32_t iterations) {
  uint32_t crc = 0xffffffffu;
  for (uint32_t it = 0; it < iterations; it++) {
    uint32_t seed = crc ^ (it * 0x9e3779b9u);
    crc = crc32_word(crc, list_work(seed));
    crc = crc32_word(crc, matrix_work(seed + 1));
    crc = crc32_word(crc, scan_work(seed + 2));
  }
  return ~crc;
}

EXPORT(bench) uint32_t bench(void) {
  return run(bench_size);
}
