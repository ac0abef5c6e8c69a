/* The fake vendors' shared HTTP plumbing (see fake_http.h). */
#include "fake_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define FAULTS_MAX 16

struct fault {
    char path[128];
    int kind;
    int times;
    long arg;
};

struct fake_http {
    struct MHD_Daemon *mhd;
    int port;
    char url[64];
    size_t body_max;
    fake_http_handler handler;
    void *cls;
    volatile bool stopping;
    pthread_mutex_t lock; /* guards what follows */
    json_t *paths;        /* every request's path, in order */
    size_t invalid;       /* malformed requests */
    char first_invalid[512];
    struct fault faults[FAULTS_MAX];
    int nfaults;
};

/* One request's body as it arrives. */
struct upload {
    char *data;
    size_t len;
    bool too_big;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct fake_http *h = cls;
    struct upload *u = *con_cls;
    if (!u) {
        *con_cls = calloc(1, sizeof *u);
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*upload_size) {
        if (u->len + *upload_size > h->body_max) {
            u->too_big = true;
        } else {
            char *p = realloc(u->data, u->len + *upload_size + 1);
            if (!p)
                abort();
            memcpy(p + u->len, upload_data, *upload_size);
            u->data = p;
            u->len += *upload_size;
            u->data[u->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&h->lock);
    json_array_append_new(h->paths, json_string(url));
    pthread_mutex_unlock(&h->lock);
    const struct fake_http_request req = {
        .method = method,
        .url = url,
        .body = u->data ? u->data : "",
        .len = u->len,
        .too_big = u->too_big,
    };
    return h->handler(h->cls, conn, &req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct upload *u = *con_cls;
    if (u) {
        free(u->data);
        free(u);
    }
    *con_cls = NULL;
}

/* Each piece of an answer leaves at once, not coalesced by Nagle: a streamed answer's
 * chunks arrive as the fake wrote them. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)cls;
    (void)socket_context;
    if (toe != MHD_CONNECTION_NOTIFY_STARTED)
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    int one = 1;
    if (ci)
        setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

struct fake_http *fake_http_start(size_t body_max, fake_http_handler handler, void *cls)
{
    struct fake_http *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->body_max = body_max;
    h->handler = handler;
    h->cls = cls;
    pthread_mutex_init(&h->lock, NULL);
    h->paths = json_array();
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                              NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &sa,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                              MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    const union MHD_DaemonInfo *di =
        h->mhd ? MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!di) {
        fake_http_stop(h);
        return NULL;
    }
    h->port = di->port;
    snprintf(h->url, sizeof h->url, "http://127.0.0.1:%d", h->port);
    return h;
}

void fake_http_stop(struct fake_http *h)
{
    if (!h)
        return;
    h->stopping = true;
    if (h->mhd)
        MHD_stop_daemon(h->mhd);
    json_decref(h->paths);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

int fake_http_port(const struct fake_http *h)
{
    return h->port;
}

const char *fake_http_url(const struct fake_http *h)
{
    return h->url;
}

bool fake_http_stopping(const struct fake_http *h)
{
    return h->stopping;
}

void fake_http_sleep_ms(const struct fake_http *h, long ms)
{
    for (long left = ms; left > 0 && !h->stopping; left -= 10) {
        struct timespec ts = {0, (left < 10 ? left : 10) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

size_t fake_http_requests(struct fake_http *h, const char *prefix)
{
    pthread_mutex_lock(&h->lock);
    size_t n = 0, i;
    json_t *p;
    json_array_foreach(h->paths, i, p)
    {
        if (!prefix || strncmp(json_string_value(p), prefix, strlen(prefix)) == 0)
            n++;
    }
    pthread_mutex_unlock(&h->lock);
    return n;
}

bool fake_http_bad(struct fake_http *h, const char *fmt, ...)
{
    pthread_mutex_lock(&h->lock);
    if (h->invalid++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(h->first_invalid, sizeof h->first_invalid, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&h->lock);
    return false;
}

size_t fake_http_invalid(struct fake_http *h, const char **first)
{
    pthread_mutex_lock(&h->lock);
    size_t n = h->invalid;
    if (first)
        *first = h->first_invalid;
    pthread_mutex_unlock(&h->lock);
    return n;
}

void fake_http_clear_invalid(struct fake_http *h)
{
    pthread_mutex_lock(&h->lock);
    h->invalid = 0;
    h->first_invalid[0] = '\0';
    pthread_mutex_unlock(&h->lock);
}

void fake_http_fault(struct fake_http *h, const char *path, int kind, int times, long arg)
{
    pthread_mutex_lock(&h->lock);
    if (h->nfaults < FAULTS_MAX) {
        struct fault *x = &h->faults[h->nfaults++];
        snprintf(x->path, sizeof x->path, "%s", path);
        x->kind = kind;
        x->times = times;
        x->arg = arg;
    }
    pthread_mutex_unlock(&h->lock);
}

bool fake_http_take_fault(struct fake_http *h, const char *url, int *kind, long *arg)
{
    bool found = false;
    pthread_mutex_lock(&h->lock);
    for (int i = 0; i < h->nfaults && !found; i++) {
        struct fault *x = &h->faults[i];
        if (x->times > 0 && strncmp(url, x->path, strlen(x->path)) == 0) {
            x->times--;
            *kind = x->kind;
            *arg = x->arg;
            found = true;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return found;
}

void fake_http_add_headers(struct MHD_Response *resp, const char *const *headers)
{
    for (const char *const *line = headers; line && *line; line++) {
        char name[128];
        const char *colon = strchr(*line, ':');
        size_t n = colon ? (size_t)(colon - *line) : 0;
        if (!n || n >= sizeof name)
            continue;
        memcpy(name, *line, n);
        name[n] = '\0';
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        MHD_add_response_header(resp, name, v);
    }
}

struct MHD_Response *fake_http_response(const char *type, const char *body,
                                        const char *const *headers)
{
    const char *b = body ? body : "";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(b), (void *)b, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return NULL;
    MHD_add_response_header(resp, "Content-Type", type);
    fake_http_add_headers(resp, headers);
    return resp;
}

enum MHD_Result fake_http_queue(struct MHD_Connection *conn, int status, struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    enum MHD_Result r = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return r;
}

enum MHD_Result fake_http_json(struct MHD_Connection *conn, int status, const char *type,
                               json_t *body, const char *const *headers)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct MHD_Response *resp = fake_http_response(type, text, headers);
    free(text);
    return fake_http_queue(conn, status, resp);
}
