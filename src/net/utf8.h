/*
 * utf8.h — the WebSocket reader's incremental UTF-8 validation is common/utf8.h (one
 * validator for the project); this header only keeps net/ws.h's include working.
 */
#ifndef ARQ_NET_UTF8_H
#define ARQ_NET_UTF8_H

#include "common/utf8.h"

#endif
