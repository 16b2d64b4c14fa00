/*
 * directory.c — what exists, for the server API (`/api/rooms`, `/api/info`):
 *   rooms  the rooms of a tenant that have members, with their member counts, from the
 *          arq:rooms set that presence.c keeps ("T R" for every room with a member);
 *   info   this Brain (its id, the partitions it holds) and the Shield nodes it hears
 *          (last heartbeat, connections). Every Brain answers an info request (no queue
 *          group), so the API sees the whole cluster.
 * Both are answered only to requests the Shield's API stamped (x-arqon-origin: api).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain/brain.h"
#include "common/json.h"
#include "common/log.h"

#define ROOMS_MAX 10000 /* rooms in one answer; beyond, "truncated": true */
#define SCAN_CALLS_MAX 1000

void arq_directory_rooms(arq_brain_t *b, natsMsg *msg, const char *tenant, const char *trace) {
  char pattern[ARQ_ID_MAX_LEN + 3];
  snprintf(pattern, sizeof pattern, "%s *", tenant);
  size_t plen = strlen(tenant) + 1;
  char (*rooms)[ARQ_ID_MAX_LEN + 1] = malloc(ROOMS_MAX * sizeof *rooms);
  if (!rooms)
    arq_oom("rooms");
  size_t n = 0;
  bool truncated = false, failed = false;
  char cursor[32] = "0";
  for (int calls = 0; !failed && calls < SCAN_CALLS_MAX; calls++) {
    redisReply *r = arq_store_command(&b->store, "SSCAN arq:rooms %s MATCH %s COUNT 1000", cursor, pattern);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_ARRAY) {
      failed = true;
      if (r)
        freeReplyObject(r);
      break;
    }
    snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
    for (size_t i = 0; i < r->element[1]->elements; i++) {
      const redisReply *e = r->element[1]->element[i];
      if (e->type != REDIS_REPLY_STRING || e->len <= plen || e->len - plen > ARQ_ID_MAX_LEN ||
          memcmp(e->str, pattern, plen))
        continue;
      if (n == ROOMS_MAX) {
        truncated = true;
        break;
      }
      memcpy(rooms[n], e->str + plen, e->len - plen);
      rooms[n++][e->len - plen] = '\0';
    }
    freeReplyObject(r);
    if (truncated || !strcmp(cursor, "0"))
      break;
  }
  /* Member counts in one pipelined round trip. */
  for (size_t i = 0; !failed && i < n; i++)
    failed = !arq_store_append(&b->store, "HLEN arq:{%s}:room:%s:members", tenant, rooms[i]);
  arq_buf_t out;
  arq_buf_init(&out);
  arq_json_writer_t w;
  arq_json_writer_init(&w, &out);
  arq_json_w_object_begin(&w);
  arq_json_w_key(&w, "rooms", 5);
  arq_json_w_array_begin(&w);
  for (size_t i = 0; !failed && i < n; i++) {
    redisReply *r = arq_store_reply(&b->store);
    if (!r) {
      failed = true;
      break;
    }
    long long members = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    if (!members)
      continue; /* emptied since the scan */
    arq_json_w_object_begin(&w);
    arq_json_w_key(&w, "room", 4);
    arq_json_w_string(&w, rooms[i], strlen(rooms[i]));
    arq_json_w_key(&w, "members", 7);
    arq_json_w_int64(&w, members);
    arq_json_w_object_end(&w);
  }
  arq_json_w_array_end(&w);
  arq_json_w_key(&w, "truncated", 9);
  arq_json_w_bool(&w, truncated);
  arq_json_w_object_end(&w);
  free(rooms);
  if (failed) {
    arq_store_close(&b->store); /* replies may be unread: start on a fresh connection */
    arq_brain_reply_error(b, msg, tenant, "", trace, 503, "presence store unavailable");
  } else {
    arq_brain_reply(b, msg, tenant, "", trace, "rooms", out.data, out.len);
  }
  arq_buf_free(&out);
}

void arq_directory_info(arq_brain_t *b, natsMsg *msg, const char *tenant, const char *trace) {
  int64_t now = arq_monotonic_ms();
  int64_t expiry = (int64_t)b->cfg->brain.presence_expiry_s * 1000;
  arq_buf_t out;
  arq_buf_init(&out);
  arq_json_writer_t w;
  arq_json_writer_init(&w, &out);
  arq_json_w_object_begin(&w);
  arq_json_w_key(&w, "brain", 5);
  arq_json_w_string(&w, b->id, strlen(b->id));
  arq_json_w_key(&w, "partitions", 10);
  arq_json_w_array_begin(&w);
  pthread_mutex_lock(&b->own_lock);
  for (uint32_t p = 0; p < b->partitions; p++)
    if (b->part[p].owned)
      arq_json_w_uint64(&w, p);
  pthread_mutex_unlock(&b->own_lock);
  arq_json_w_array_end(&w);
  arq_json_w_key(&w, "partitions_total", 16);
  arq_json_w_uint64(&w, b->partitions);
  arq_json_w_key(&w, "shields", 7);
  arq_json_w_array_begin(&w);
  for (size_t i = 0; i < b->nodes.cap; i++) {
    const arq_strmap_slot_t *s = &b->nodes.slots[i];
    const arq_node_t *node = s->key ? s->value : NULL;
    if (!node || now - node->last_ms >= expiry)
      continue; /* silent: its members are expired */
    arq_json_w_object_begin(&w);
    arq_json_w_key(&w, "node", 4);
    arq_json_w_string(&w, s->key, s->key_len);
    arq_json_w_key(&w, "heartbeat_ms_ago", 16);
    arq_json_w_int64(&w, now - node->last_ms);
    arq_json_w_key(&w, "connections", 11);
    arq_json_w_int64(&w, node->connections);
    arq_json_w_object_end(&w);
  }
  arq_json_w_array_end(&w);
  arq_json_w_object_end(&w);
  arq_brain_reply(b, msg, tenant, "", trace, "info", out.data, out.len);
  arq_buf_free(&out);
}
