/*
 * subjects.h — the NATS subjects of SPEC section 4, built and read in one place.
 *
 *   in.t.<tenant>.r.<room>           a client event to a room (ingress)
 *   out.t.<tenant>.r.<room>          a room broadcast (egress)
 *   out.t.<tenant>.u.<user>          to every connection of a user
 *   out.t.<tenant>.c.<node>.<conn>   to one connection
 *   sys.brain.<tenant>.<command>     join/leave notices, presence/history requests
 *   sys.shield.<node>.hb             a Shield's heartbeat
 *   sys.shield.disconnect.<tenant>.<user>   close every connection of a user (server API)
 *   sys.shield.canary.report.<key>   every Shield's counts of a candidate policy (<key>:
 *                                    a tenant id or _global; docs/policies.md)
 *   sys.audit.<tenant>               the audit trail
 *   shadow.<subject>                 a mirrored copy
 *
 * Every id in a subject is checked against the id rule (common/ids.h) when a subject is
 * read; builders take ids the caller has already checked.
 */
#ifndef ARQ_PROTOCOL_SUBJECTS_H
#define ARQ_PROTOCOL_SUBJECTS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/ids.h"

/* Room for any subject built from ids of at most ARQ_ID_MAX_LEN bytes (shadow copies of
 * the longest, sys.brain with a command name, included). */
#define ARQ_SUBJECT_CAP 224

/* The patterns the parts subscribe to and the streams capture. */
#define ARQ_SUBJECTS_INGRESS "in.t.*.r.*"
#define ARQ_SUBJECTS_ROOMS "out.t.*.r.*"
#define ARQ_SUBJECTS_USERS "out.t.*.u.*"
#define ARQ_SUBJECTS_JOINS "sys.brain.*.join"
#define ARQ_SUBJECTS_LEAVES "sys.brain.*.leave"
#define ARQ_SUBJECTS_PRESENCE_REQUESTS "sys.brain.*.presence"
#define ARQ_SUBJECTS_HISTORY_REQUESTS "sys.brain.*.history"
#define ARQ_SUBJECTS_ROOMS_REQUESTS "sys.brain.*.rooms" /* the server API's */
#define ARQ_SUBJECTS_INFO_REQUESTS "sys.brain.*.info"   /* every Brain answers */
#define ARQ_SUBJECTS_HEARTBEATS "sys.shield.*.hb"
#define ARQ_SUBJECTS_AUDIT "sys.audit.>"
#define ARQ_SUBJECTS_DISCONNECTS "sys.shield.disconnect.*.*"
#define ARQ_SUBJECTS_CANARY_REPORTS "sys.shield.canary.report.*"

/* Builders: like snprintf, they return the length the subject has (>= cap: cut). */
int arq_subject_ingress(char *out, size_t cap, const char *tenant, const char *room);
int arq_subject_room(char *out, size_t cap, const char *tenant, const char *room);
int arq_subject_user(char *out, size_t cap, const char *tenant, const char *user);
int arq_subject_brain(char *out, size_t cap, const char *tenant, const char *command);
int arq_subject_heartbeat(char *out, size_t cap, const char *node);
int arq_subject_audit(char *out, size_t cap, const char *tenant);
int arq_subject_disconnect(char *out, size_t cap, const char *tenant, const char *user);
int arq_subject_shadow(char *out, size_t cap, const char *subject);
int arq_subject_canary_report(char *out, size_t cap, const char *key);
/** out.t.*.c.<node>.*: every connection of one Shield node. */
int arq_subject_node_conns(char *out, size_t cap, const char *node);

typedef enum { ARQ_EGRESS_ROOM, ARQ_EGRESS_USER, ARQ_EGRESS_CONN } arq_egress_kind_t;

/* Readers: true when the subject has the form, each id valid; the ids are copied into
 * buffers of ARQ_ID_MAX_LEN + 1 bytes. */
bool arq_subject_parse_ingress(const char *subject, char *tenant, char *room);
bool arq_subject_parse_brain(const char *subject, char *tenant, char *command);
bool arq_subject_parse_heartbeat(const char *subject, char *node);
bool arq_subject_parse_disconnect(const char *subject, char *tenant, char *user);
/** sys.shield.canary.report.<key>, the key an id (a tenant's, or _global). */
bool arq_subject_parse_canary_report(const char *subject, char *key);
/** out.t.<tenant>.r|u.<name> or out.t.<tenant>.c.<node>.<name>; `node` is filled for
 *  connections only (and may be NULL otherwise). */
bool arq_subject_parse_egress(const char *subject, arq_egress_kind_t *kind, char *tenant,
                              char *node, char *name);

#endif
