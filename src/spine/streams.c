/*
 * streams.c — the settings of the product's streams (streams.h).
 */
#include "spine/streams.h"

#include <stdio.h>

#include "protocol/subjects.h"

void arq_stream_config(const arq_config_t *cfg, arq_stream_id_t id, jsStreamConfig *sc) {
  static const char *const ingress[] = {ARQ_SUBJECTS_INGRESS};
  static const char *const notices[] = {ARQ_SUBJECTS_JOINS, ARQ_SUBJECTS_LEAVES};
  static const char *const rooms[] = {ARQ_SUBJECTS_ROOMS};
  static const char *const audit[] = {ARQ_SUBJECTS_AUDIT};
  const int64_t sec = 1000000000LL;
  jsStreamConfig_Init(sc);
  sc->Storage = js_FileStorage;
  sc->Replicas = cfg->nats.stream_replicas;
  switch (id) {
  /* Room events as the Shields published them: kept long enough to replay a partition
   * whose Brain died (docs/brain.md), or to work through a backlog (an hour by default, far
   * beyond any lease). Join/leave notices have a stream of their own: on nats-server 2.9 a
   * consumer filtered on part of a stream's subjects reads stored messages very slowly, so
   * each consumer reads a whole stream. Presence and history requests are not kept: they
   * are answered live. */
  case ARQ_STREAM_ID_INGRESS:
    sc->Name = ARQ_STREAM_INGRESS;
    sc->Subjects = (const char **)ingress;
    sc->SubjectsLen = 1;
    sc->MaxAge = cfg->brain.ingress_max_age_s * sec;
    break;
  case ARQ_STREAM_ID_NOTICES:
    sc->Name = ARQ_STREAM_NOTICES;
    sc->Subjects = (const char **)notices;
    sc->SubjectsLen = 2;
    sc->MaxAge = cfg->brain.ingress_max_age_s * sec;
    break;
  case ARQ_STREAM_ID_ROOMS:
    sc->Name = ARQ_STREAM_ROOMS;
    sc->Subjects = (const char **)rooms;
    sc->SubjectsLen = 1;
    sc->MaxMsgsPerSubject = cfg->brain.history_max_per_room > 0 ? cfg->brain.history_max_per_room : -1;
    sc->MaxAge = cfg->brain.history_max_age_s * sec;
    sc->Duplicates = 120 * sec;
    sc->AllowDirect = true; /* history finds where a page starts with direct gets */
    break;
  case ARQ_STREAM_ID_AUDIT:
  default:
    sc->Name = ARQ_STREAM_AUDIT;
    sc->Subjects = (const char **)audit;
    sc->SubjectsLen = 1;
    sc->MaxAge = 30LL * 86400 * sec;
    break;
  }
}

natsStatus arq_stream_create_if_absent(jsCtx *js, const jsStreamConfig *sc, bool *created, char *err,
                                       size_t errcap) {
  *created = false;
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  natsStatus st = js_GetStreamInfo(&si, js, sc->Name, NULL, &jerr);
  jsStreamInfo_Destroy(si);
  if (st == NATS_OK)
    return NATS_OK;
  if (st == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
    si = NULL;
    st = js_AddStream(&si, js, (jsStreamConfig *)sc, NULL, &jerr);
    jsStreamInfo_Destroy(si);
    if (st == NATS_OK) {
      *created = true;
      return NATS_OK;
    }
    if (jerr == JSStreamNameExistErr) /* created meanwhile by someone else */
      return NATS_OK;
  }
  const char *last = nats_GetLastError(NULL);
  snprintf(err, errcap, "stream %s: %s", sc->Name, last && *last ? last : natsStatus_GetText(st));
  return st;
}
