/*
 * numeric.c — float helpers whose WebAssembly semantics differ from C's.
 *
 * DESIGN
 *   min/max must propagate NaN and order -0 below +0 (fmin/fmax do neither the
 *   spec's way); nearest rounds half to even regardless of the current rounding
 *   mode; float-to-int truncation needs exact range checks before converting,
 *   because an out-of-range C conversion is undefined behaviour.
 */
#include <math.h>
#include <string.h>

#include "wasm/internal.h"

float arq__f32_min(float a, float b) {
  if (isnan(a) || isnan(b))
    return a + b; /* a quiet NaN derived from the operands */
  if (a == b)
    return signbit(a) ? a : b;
  return a < b ? a : b;
}

float arq__f32_max(float a, float b) {
  if (isnan(a) || isnan(b))
    return a + b;
  if (a == b)
    return signbit(a) ? b : a;
  return a > b ? a : b;
}

double arq__f64_min(double a, double b) {
  if (isnan(a) || isnan(b))
    return a + b;
  if (a == b)
    return signbit(a) ? a : b;
  return a < b ? a : b;
}

double arq__f64_max(double a, double b) {
  if (isnan(a) || isnan(b))
    return a + b;
  if (a == b)
    return signbit(a) ? b : a;
  return a > b ? a : b;
}

float arq__f32_nearest(float a) {
  if (isnan(a))
    return a + a;
  /* values this large are already integers; rounding below keeps the sign of zero */
  if (fabsf(a) >= 8388608.0f)
    return a;
  float r = roundf(a);
  if (fabsf(a - truncf(a)) == 0.5f)
    r = 2.0f * roundf(a / 2.0f);
  return copysignf(r, a);
}

double arq__f64_nearest(double a) {
  if (isnan(a))
    return a + a;
  if (fabs(a) >= 4503599627370496.0)
    return a;
  double r = round(a);
  if (fabs(a - trunc(a)) == 0.5)
    r = 2.0 * round(a / 2.0);
  return copysign(r, a);
}

static float as_f32(uint64_t s) {
  uint32_t u = (uint32_t)s;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static double as_f64(uint64_t s) {
  double d;
  memcpy(&d, &s, 8);
  return d;
}

/* opcode: 0xa8..0xb1 as in the binary format */
arq_wasm_result_t arq__trunc(uint8_t opcode, uint64_t in, uint64_t *out) {
  double x;
  bool from32 = opcode == 0xa8 || opcode == 0xa9 || opcode == 0xae || opcode == 0xaf;
  x = from32 ? (double)as_f32(in) : as_f64(in);
  if (isnan(x))
    return arq_wasm_err_trap_conversion;
  switch (opcode) {
  case 0xa8:
  case 0xaa:
    if (!(x > -2147483649.0 && x < 2147483648.0))
      return arq_wasm_err_trap_overflow;
    *out = (uint32_t)(int32_t)x;
    return NULL;
  case 0xa9:
  case 0xab:
    if (!(x > -1.0 && x < 4294967296.0))
      return arq_wasm_err_trap_overflow;
    *out = (uint32_t)x;
    return NULL;
  case 0xae:
  case 0xb0:
    if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0))
      return arq_wasm_err_trap_overflow;
    *out = (uint64_t)(int64_t)x;
    return NULL;
  default: /* 0xaf, 0xb1 */
    if (!(x > -1.0 && x < 18446744073709551616.0))
      return arq_wasm_err_trap_overflow;
    *out = (uint64_t)x;
    return NULL;
  }
}

/* which: 0..7 as the 0xfc sub-opcodes */
uint64_t arq__trunc_sat(uint8_t which, uint64_t in) {
  double x = (which == 0 || which == 1 || which == 4 || which == 5) ? (double)as_f32(in)
                                                                        : as_f64(in);
  if (isnan(x))
    return 0;
  switch (which) {
  case 0:
  case 2:
    if (x <= -2147483649.0)
      return (uint32_t)INT32_MIN;
    if (x >= 2147483648.0)
      return (uint32_t)INT32_MAX;
    return (uint32_t)(int32_t)x;
  case 1:
  case 3:
    if (x <= -1.0)
      return 0;
    if (x >= 4294967296.0)
      return UINT32_MAX;
    return (uint32_t)x;
  case 4:
  case 6:
    if (x < -9223372036854775808.0)
      return (uint64_t)INT64_MIN;
    if (x >= 9223372036854775808.0)
      return (uint64_t)INT64_MAX;
    return (uint64_t)(int64_t)x;
  default:
    if (x <= -1.0)
      return 0;
    if (x >= 18446744073709551616.0)
      return UINT64_MAX;
    return (uint64_t)x;
  }
}
