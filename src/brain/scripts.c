#include "brain/scripts.h"

/* Numbers are Lua doubles: exact up to 2^53, far beyond any stream sequence or seq. */
const char arq_brain_assign_script[] =
    "local f = tonumber(redis.call('GET', KEYS[3]) or '0')\n"
    "local tok = tonumber(ARGV[2])\n"
    "if tok < f then return {-1, 0} end\n"
    "if tok > f then redis.call('SET', KEYS[3], ARGV[2]) end\n"
    "local last = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
    "local s = tonumber(ARGV[1])\n"
    "if s < last then return {2, 0} end\n"
    "if s == last then\n"
    "  if tonumber(redis.call('GET', KEYS[4]) or '0') >= s then return {2, 0} end\n"
    "  return {1, tonumber(redis.call('GET', KEYS[1]) or '0')}\n"
    "end\n"
    "local n = redis.call('INCR', KEYS[1])\n"
    "redis.call('SET', KEYS[2], ARGV[1])\n"
    "return {0, n}\n";

const char arq_brain_ckpt_script[] =
    "local c = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "if tonumber(ARGV[1]) > c then redis.call('SET', KEYS[1], ARGV[1]) end\n"
    "return 0\n";
