/* Mail transports (see transport.h): the spec parser, the Maildir backend, which the
 * development server and the tests deliver into instead of a real mail server, and the
 * DKIM signing layer around any backend. SMTP lives in smtp.c. */
#include "connectors/mail/transport.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "connectors/mail/dkim.h"
#include "connectors/mail/message.h"
#include "connectors/mail/smtp.h"

/* ---- Maildir ------------------------------------------------------------------------- */

/* A Maildir (https://cr.yp.to/proto/maildir.html). A message is written under a unique name
 * in tmp/, flushed to disk, then renamed into new/, and new/ itself is flushed: a reader
 * scanning new/ only ever sees complete messages, and once send returns 0 the message
 * survives a crash. The name is "<seconds>.M<microseconds>P<pid>Q<n>.<host>" where n counts
 * this process's deliveries, so names from one process never repeat and names from
 * different processes or hosts differ by pid or host. The file is created with O_EXCL and
 * renamed with RENAME_NOREPLACE, so even a clock stepped back cannot overwrite a message.
 *
 * The directories are opened once and used through their descriptors; nothing in the
 * struct changes after open, so concurrent sends need no lock, only the atomic counter. */
struct maildir {
    struct sa_transport super;
    int tmp_fd;
    int new_fd;
    char host[4 * 64 + 1]; /* the host name, '/' and ':' (and odd bytes) as \ooo */
};

static atomic_ulong deliveries;

static const char *errstr(int e, char *buf, size_t cap)
{
    return strerror_r(e, buf, cap); /* the GNU variant: thread-safe, returns the text */
}

static int io_error(struct sa_err *err, const char *what, const char *name, int e)
{
    char buf[128];
    return sa_err_set(err, SA_EIO, "maildir: %s %s: %s", what, name, errstr(e, buf, sizeof buf));
}

/* mkdir -p with mode 0700. path is modified while walking and restored. */
static int mkdir_p(char *path, struct sa_err *err)
{
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        int rc = mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : errno;
        if (rc) {
            io_error(err, "cannot create", path, rc);
            *p = saved;
            return SA_EIO;
        }
        *p = saved;
        if (saved == '\0')
            return 0;
    }
}

/* Creates (when missing) and opens the subdirectory sub of dir. */
static int open_sub(const char *dir, const char *sub, int *fd, struct sa_err *err)
{
    size_t n = strlen(dir) + strlen(sub) + 2;
    char *path = malloc(n);
    if (!path)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    snprintf(path, n, "%s/%s", dir, sub);
    int rc = 0;
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        rc = io_error(err, "cannot create", path, errno);
        goto out;
    }
    *fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0)
        rc = io_error(err, "cannot open", path, errno);
out:
    free(path);
    return rc;
}

static void escape_host(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 5 <= cap; p++) {
        if (*p == '/' || *p == ':' || *p == '\\' || *p <= 0x20 || *p >= 0x7F)
            o += (size_t)snprintf(out + o, cap - o, "\\%03o", *p);
        else
            out[o++] = (char)*p;
    }
    out[o] = '\0';
}

static void maildir_free(struct sa_transport *t)
{
    struct maildir *md = (struct maildir *)t;
    if (md->tmp_fd >= 0)
        close(md->tmp_fd);
    if (md->new_fd >= 0)
        close(md->new_fd);
    free(md);
}

static void unique_name(const struct maildir *md, char *out, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long q = atomic_fetch_add(&deliveries, 1) + 1;
    snprintf(out, cap, "%lld.M%06ldP%ldQ%lu.%s", (long long)ts.tv_sec, ts.tv_nsec / 1000,
             (long)getpid(), q, md->host);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Moves tmp/name to new/name unless new/name exists. Returns 0 or an errno. Filesystems
 * without RENAME_NOREPLACE get the original Maildir way: link(2), which also refuses to
 * replace, then unlink the tmp/ name. */
static int move_to_new(const struct maildir *md, const char *name)
{
    if (renameat2(md->tmp_fd, name, md->new_fd, name, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return errno;
    if (linkat(md->tmp_fd, name, md->new_fd, name, 0) != 0)
        return errno;
    unlinkat(md->tmp_fd, name, 0);
    return 0;
}

/* One delivery attempt under name. Returns 0, SA_ECONFLICT when the name is taken (the
 * caller tries another), or SA_EIO; on failure nothing of it is left in tmp/ or new/. */
static int deliver(const struct maildir *md, const char *name, const char *msg, size_t len,
                   struct sa_err *err)
{
    int fd = openat(md->tmp_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? SA_ECONFLICT : io_error(err, "cannot create tmp/", name, errno);
    int e = write_all(fd, msg, len);
    const char *what = "cannot write tmp/";
    /* stamped with business time (base/clock.h), which retention compares it with */
    struct timespec at[2];
    sa_wall_now(&at[0]);
    at[1] = at[0];
    if (!e && futimens(fd, at) != 0) {
        e = errno;
        what = "cannot stamp tmp/";
    }
    if (!e && fsync(fd) != 0) {
        e = errno;
        what = "cannot fsync tmp/";
    }
    if (close(fd) != 0 && !e) {
        e = errno;
        what = "cannot close tmp/";
    }
    if (!e) {
        e = move_to_new(md, name);
        what = "cannot move into new/";
    }
    if (e) {
        unlinkat(md->tmp_fd, name, 0);
        return e == EEXIST ? SA_ECONFLICT : io_error(err, what, name, e);
    }
    if (fsync(md->new_fd) != 0) {
        /* Not known to be durable: take it back so a retry cannot make a duplicate. */
        e = errno;
        unlinkat(md->new_fd, name, 0);
        return io_error(err, "cannot fsync new/ after delivering", name, e);
    }
    return 0;
}

static int maildir_send(struct sa_transport *t, const char *to_addr, const char *msg, size_t len,
                        char *delivered_id, size_t id_cap, struct sa_err *err)
{
    const struct maildir *md = (const struct maildir *)t;
    if (delivered_id && id_cap)
        delivered_id[0] = '\0';
    if (!sa_mail_addr_valid(to_addr))
        return sa_err_set(err, SA_EINVAL, "to_addr is not a valid e-mail address");
    if (!msg && len)
        return sa_err_set(err, SA_EINVAL, "msg is NULL");
    char name[SA_TRANSPORT_ID_MAX];
    for (int attempt = 0; attempt < 8; attempt++) {
        unique_name(md, name, sizeof name);
        if (delivered_id && strlen(name) >= id_cap)
            return sa_err_set(err, SA_EINVAL, "delivered_id needs %zu bytes, has %zu",
                              strlen(name) + 1, id_cap);
        int rc = deliver(md, name, msg ? msg : "", len, err);
        if (rc == SA_ECONFLICT)
            continue;
        if (rc)
            return rc;
        if (delivered_id)
            memcpy(delivered_id, name, strlen(name) + 1);
        return 0;
    }
    return sa_err_set(err, SA_EIO, "maildir: no unused file name after 8 attempts");
}

/* True when DIR/cur holds name with its ":2,..." info suffix (the reader saw it). */
static bool in_cur(const struct maildir *md, const char *name)
{
    int fd = openat(md->new_fd, "../cur", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    size_t n = strlen(name);
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)))
        found = strncmp(e->d_name, name, n) == 0 && (e->d_name[n] == ':' || !e->d_name[n]);
    closedir(d);
    return found;
}

static int maildir_send_once(struct sa_transport *t, const char *key, const char *to_addr,
                             const char *msg, size_t len, char *delivered_id, size_t id_cap,
                             bool *already, struct sa_err *err)
{
    const struct maildir *md = (const struct maildir *)t;
    *already = false;
    if (delivered_id && id_cap)
        delivered_id[0] = '\0';
    size_t kl = key ? strlen(key) : 0;
    bool ok = kl > 0 && kl <= 64;
    for (size_t i = 0; ok && i < kl; i++)
        ok = isalnum((unsigned char)key[i]) || key[i] == '-';
    if (!ok)
        return sa_err_set(err, SA_EINVAL, "key should be 1-64 letters, digits or '-'");
    if (!sa_mail_addr_valid(to_addr))
        return sa_err_set(err, SA_EINVAL, "to_addr is not a valid e-mail address");
    char name[SA_TRANSPORT_ID_MAX];
    snprintf(name, sizeof name, "%s.%s", key, md->host);
    if (delivered_id && strlen(name) >= id_cap)
        return sa_err_set(err, SA_EINVAL, "delivered_id needs %zu bytes, has %zu", strlen(name) + 1,
                          id_cap);
    if (delivered_id)
        memcpy(delivered_id, name, strlen(name) + 1);
    if (faccessat(md->new_fd, name, F_OK, 0) == 0 || in_cur(md, name)) {
        *already = true;
        return 0;
    }
    unlinkat(md->tmp_fd, name, 0); /* a crashed attempt's leftover: never delivered */
    int rc = deliver(md, name, msg ? msg : "", len, err);
    if (rc == SA_ECONFLICT) { /* another sender got there first */
        *already = true;
        return 0;
    }
    return rc;
}

/* Deletes (or counts) the regular files of the directory sub (relative to new/) last
 * changed before before. A file is judged by its own mtime: delivery sets it to the
 * business time of the delivery (so a test moving CLOCK_FILE ages mail as it ages rows),
 * and a reader moving a message to cur/ keeps it (rename does not touch it). */
static int prune_dir(const struct maildir *md, const char *sub, double before, bool dry_run,
                     long *n, struct sa_err *err)
{
    int fd = openat(md->new_fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return io_error(err, "cannot read", sub, e);
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (e->d_name[0] == '.' || fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        double changed = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9;
        if (changed >= before)
            continue;
        if (dry_run || unlinkat(fd, e->d_name, 0) == 0)
            (*n)++;
    }
    closedir(d);
    return 0;
}

static int maildir_prune(struct sa_transport *t, double before, bool dry_run, long *n,
                         struct sa_err *err)
{
    const struct maildir *md = (const struct maildir *)t;
    *n = 0;
    static const char *const subs[] = {".", "../cur", "../tmp"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        int rc = prune_dir(md, subs[i], before, dry_run, n, err);
        if (rc)
            return rc;
    }
    return 0;
}

static const struct sa_transport_ops maildir_ops = {
    .name = "maildir",
    .send = maildir_send,
    .send_once = maildir_send_once,
    .prune = maildir_prune,
    .free = maildir_free,
};

static int maildir_open(const char *dir, struct sa_transport **out, struct sa_err *err)
{
    struct maildir *md = calloc(1, sizeof *md);
    char *root = strdup(dir);
    int rc = SA_ENOMEM;
    if (!md || !root) {
        sa_err_set(err, rc, "out of memory");
        goto out;
    }
    md->super.ops = &maildir_ops;
    md->tmp_fd = md->new_fd = -1;
    int cur_fd = -1;
    rc = mkdir_p(root, err);
    if (!rc)
        rc = open_sub(root, "tmp", &md->tmp_fd, err);
    if (!rc)
        rc = open_sub(root, "new", &md->new_fd, err);
    if (!rc)
        rc = open_sub(root, "cur", &cur_fd, err);
    if (cur_fd >= 0)
        close(cur_fd);
    if (rc)
        goto out;
    char host[256];
    if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    escape_host(host, md->host, sizeof md->host);
    *out = &md->super;
out:
    free(root);
    if (rc && md)
        maildir_free(&md->super);
    return rc;
}

/* ---- DKIM signing around a backend ---------------------------------------------------- */

/* Signs each message (dkim.h) and hands the signed bytes to the backend it wraps, so
 * signing is the same whichever backend delivers. Signing is deterministic (no t= tag),
 * so a retried delivery of the same item sends the same bytes. */
struct signing {
    struct sa_transport super;
    struct sa_transport *inner;
    struct sa_dkim *dkim;
};

static int signing_send(struct sa_transport *t, const char *to_addr, const char *msg, size_t len,
                        char *delivered_id, size_t id_cap, struct sa_err *err)
{
    struct signing *sg = (struct signing *)t;
    if (delivered_id && id_cap)
        delivered_id[0] = '\0';
    char *signed_msg = NULL;
    size_t n = 0;
    int rc = sa_dkim_sign(sg->dkim, msg ? msg : "", msg ? len : 0, &signed_msg, &n, err);
    if (!rc)
        rc = sa_transport_send(sg->inner, to_addr, signed_msg, n, delivered_id, id_cap, err);
    free(signed_msg);
    return rc;
}

static int signing_send_once(struct sa_transport *t, const char *key, const char *to_addr,
                             const char *msg, size_t len, char *delivered_id, size_t id_cap,
                             bool *already, struct sa_err *err)
{
    struct signing *sg = (struct signing *)t;
    *already = false;
    if (delivered_id && id_cap)
        delivered_id[0] = '\0';
    char *signed_msg = NULL;
    size_t n = 0;
    int rc = sa_dkim_sign(sg->dkim, msg ? msg : "", msg ? len : 0, &signed_msg, &n, err);
    if (!rc)
        rc = sa_transport_send_once(sg->inner, key, to_addr, signed_msg, n, delivered_id, id_cap,
                                    already, err);
    free(signed_msg);
    return rc;
}

static int signing_prune(struct sa_transport *t, double before, bool dry_run, long *n,
                         struct sa_err *err)
{
    return sa_transport_prune(((struct signing *)t)->inner, before, dry_run, n, err);
}

static void signing_free(struct sa_transport *t)
{
    struct signing *sg = (struct signing *)t;
    sa_transport_free(sg->inner);
    sa_dkim_free(sg->dkim);
    free(sg);
}

static const char *signing_breaker(struct sa_transport *t)
{
    return sa_transport_breaker(((struct signing *)t)->inner);
}

static const struct sa_transport_ops signing_ops = {
    .name = "dkim",
    .breaker = signing_breaker,
    .send = signing_send,
    .send_once = signing_send_once,
    .prune = signing_prune,
    .free = signing_free,
};

/* Wraps *t in the signing layer; on failure *t is freed and NULL. */
static int wrap_signing(const struct sa_transport_options *o, struct sa_transport **t,
                        struct sa_err *err)
{
    struct sa_dkim *dkim = NULL;
    struct signing *sg = NULL;
    int rc;
    if (!o->dkim_selector || !o->dkim_selector[0])
        rc = sa_err_set(err, SA_ECONFIG, "DKIM_KEY_FILE is set but DKIM_SELECTOR is not");
    else
        rc = sa_dkim_open(o->dkim_key_file, o->dkim_selector, o->dkim_domain, &dkim, err);
    if (!rc && !(sg = calloc(1, sizeof *sg)))
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    if (!sg) {
        sa_dkim_free(dkim);
        sa_transport_free(*t);
        *t = NULL;
        return rc;
    }
    *sg = (struct signing){.super.ops = &signing_ops, .inner = *t, .dkim = dkim};
    *t = &sg->super;
    return 0;
}

/* ---- spec ---------------------------------------------------------------------------- */

int sa_transport_open_with(const char *spec, const struct sa_transport_options *opts,
                           struct sa_transport **out, struct sa_err *err)
{
    *out = NULL;
    int rc;
    if (!spec || !*spec)
        return sa_err_set(err, SA_ECONFIG,
                          "mail transport is not set (expected maildir:DIR or smtp://HOST)");
    if (strncmp(spec, "maildir:", 8) == 0) {
        if (spec[8] == '\0')
            return sa_err_set(err, SA_ECONFIG, "mail transport maildir: needs a directory");
        rc = maildir_open(spec + 8, out, err);
    } else if (strncmp(spec, "smtp:", 5) == 0 || strncmp(spec, "smtps:", 6) == 0) {
        rc = sa_smtp_open(spec, opts, out, err);
    } else {
        size_t scheme = strcspn(spec, ":");
        return sa_err_set(err, SA_ECONFIG,
                          "unknown mail transport \"%.*s\" (expected maildir:DIR, smtp:// or "
                          "smtps://)",
                          (int)(scheme < 32 ? scheme : 32), spec);
    }
    if (!rc && opts && opts->dkim_key_file && opts->dkim_key_file[0])
        rc = wrap_signing(opts, out, err);
    return rc;
}

int sa_transport_open(const char *spec, struct sa_transport **out, struct sa_err *err)
{
    return sa_transport_open_with(spec, NULL, out, err);
}

void sa_transport_free(struct sa_transport *t)
{
    if (t)
        t->ops->free(t);
}
