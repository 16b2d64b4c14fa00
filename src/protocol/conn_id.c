#include "protocol/conn_id.h"

#include <stdio.h>
#include <string.h>

int arq_conn_id_format(char *out, size_t cap, const char *instance, size_t worker, uint64_t n) {
  return snprintf(out, cap, "%s-%zu-%llu", instance, worker, (unsigned long long)n);
}

int arq_conn_id_instance(const char *conn_id, char instance[ARQ_ID_MAX_LEN + 1]) {
  if (!conn_id || !arq_id_valid_str(conn_id))
    return -1;
  const char *dash = strchr(conn_id, '-');
  if (!dash || dash == conn_id || !dash[1])
    return -1;
  memcpy(instance, conn_id, (size_t)(dash - conn_id));
  instance[dash - conn_id] = '\0';
  return 0;
}
