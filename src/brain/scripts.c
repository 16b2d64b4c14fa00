#include "brain/scripts.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

/* Numbers are Lua doubles: exact up to 2^53, far beyond any stream sequence or seq. Values
 * are written from ARGV as given (strings), never from Lua numbers. */
const char arq_brain_commit_script[] =
    "local a, k, refused = 2, 1, {}\n"
    "for i = 1, tonumber(ARGV[1]) do\n"
    "  local tok, ck, n = tonumber(ARGV[a]), ARGV[a + 1], tonumber(ARGV[a + 2])\n"
    "  local f = tonumber(redis.call('GET', KEYS[k]) or '0')\n"
    "  if tok < f then\n"
    "    refused[#refused + 1] = i - 1\n"
    "  else\n"
    "    if tok > f then redis.call('SET', KEYS[k], ARGV[a]) end\n"
    "    if tonumber(ck) > tonumber(redis.call('GET', KEYS[k + 1]) or '0') then\n"
    "      redis.call('SET', KEYS[k + 1], ck)\n"
    "    end\n"
    "    for j = 0, n - 1 do\n"
    "      local kr, ar = k + 2 + 3 * j, a + 3 + 2 * j\n"
    "      if tonumber(ARGV[ar + 1]) > tonumber(redis.call('GET', KEYS[kr + 1]) or '0') then\n"
    "        redis.call('SET', KEYS[kr], ARGV[ar])\n"
    "        redis.call('SET', KEYS[kr + 1], ARGV[ar + 1])\n"
    "        redis.call('DEL', KEYS[kr + 2])\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  k = k + 2 + 3 * n\n"
    "  a = a + 3 + 2 * n\n"
    "end\n"
    "return refused\n";

const char arq_brain_ckpt_script[] =
    "local c = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "if tonumber(ARGV[1]) > c then redis.call('SET', KEYS[1], ARGV[1]) end\n"
    "return 0\n";

void arq_brain_script_sha1(const char *script, char hex[41]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!EVP_Digest(script, strlen(script), md, &n, EVP_sha1(), NULL) || n != 20) {
    hex[0] = '\0'; /* EVALSHA answers NOSCRIPT, and the commit sends the script instead */
    return;
  }
  for (unsigned int i = 0; i < n; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
}
