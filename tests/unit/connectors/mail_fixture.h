/* Helpers shared by the DKIM and SMTP tests: temporary directories, files, keys made with
 * the openssl command, and Debian's python3 (which has python3-aiosmtpd and python3-dkim;
 * a python3 earlier on PATH, such as pyenv's, may not). Include after <cmocka.h>. */
#ifndef SA_TEST_MAIL_FIXTURE_H
#define SA_TEST_MAIL_FIXTURE_H

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The python3 that imports module, or fails the test naming the package. */
static const char *python_with(const char *module)
{
    static const char *const candidates[] = {"/usr/bin/python3", "python3"};
    for (size_t i = 0; i < 2; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "%s -c 'import %s' >/dev/null 2>&1", candidates[i], module);
        if (system(cmd) == 0)
            return candidates[i];
    }
    fail_msg("python3 cannot import %s: run scripts/deps.sh", module);
    return NULL;
}

/* Runs a shell command built like printf; returns its exit status. */
static int __attribute__((format(printf, 1, 2))) run(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The file's bytes (malloc'd, NUL-terminated) and length, or NULL when it cannot be read. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void spit(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new directory /tmp/sa-PREFIX-XXXXXX into out. */
static void make_tmpdir(const char *prefix, char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/sa-%s-XXXXXX", prefix);
    assert_non_null(mkdtemp(out));
}

/* A private key made by the openssl command into path: "rsa2048", "rsa512", "ed25519",
 * "p256". */
static void make_key(const char *kind, const char *path)
{
    const char *args = !strcmp(kind, "rsa2048")  ? "-algorithm RSA -pkeyopt rsa_keygen_bits:2048"
                       : !strcmp(kind, "rsa512") ? "-algorithm RSA -pkeyopt rsa_keygen_bits:512"
                       : !strcmp(kind, "ed25519")
                           ? "-algorithm ed25519"
                           : "-algorithm EC -pkeyopt ec_paramgen_curve:P-256";
    assert_int_equal(run("openssl genpkey %s -out %s 2>/dev/null", args, path), 0);
}

#endif
