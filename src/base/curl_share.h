/* One libcurl share handle with its locks, for the HTTP clients that keep DNS answers,
 * connections and TLS sessions across requests (connectors/http.c, llm/http.c), and the
 * transfer options they have in common. The caller embeds the struct and passes each easy
 * handle through sa_curl_share_use. */
#ifndef SA_BASE_CURL_SHARE_H
#define SA_BASE_CURL_SHARE_H

#include <curl/curl.h>
#include <pthread.h>

#include "base/err.h"

struct sa_curl_share {
    CURLSH *sh; /* NULL until sa_curl_share_init succeeds */
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

/* Makes s a share handle for the connection cache, the DNS cache and TLS sessions, each
 * behind its own mutex, so easy handles on several threads may use it at once. s MUST NOT
 * move until destroyed (libcurl finds the locks through it). Returns 0, or SA_ENOMEM with
 * s->sh NULL and nothing to release. */
int sa_curl_share_init(struct sa_curl_share *s) SA_WUR;

/* Sets on easy the options every transfer of the HTTP clients takes: this share handle, a
 * deadline of timeout_ms for the whole transfer (at most 10 s of it to connect), no signals
 * (the clients run on many threads), TCP_NODELAY, and the http and https protocols only. */
void sa_curl_share_use(struct sa_curl_share *s, CURL *easy, long timeout_ms);

/* Releases what sa_curl_share_init made; a no-op when s->sh is NULL (never initialised,
 * initialisation failed, or already destroyed). Every easy handle using s MUST be cleaned
 * up first. */
void sa_curl_share_destroy(struct sa_curl_share *s);

#endif
