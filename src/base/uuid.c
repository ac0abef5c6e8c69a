/* UUID v4 generation from the kernel's CSPRNG, and canonical-form validation. */
#include "base/uuid.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Random bytes from a per-thread pool refilled 256 bytes at a time: one getrandom(2)
 * call per 16 UUIDs instead of one each (ids are made on every checkpoint). */
static void random_bytes(uint8_t *b, size_t len)
{
    static _Thread_local uint8_t pool[256];
    static _Thread_local size_t left;
    while (len > 0) {
        if (left == 0) {
            size_t got = 0;
            while (got < sizeof pool) {
                ssize_t n = getrandom(pool + got, sizeof pool - got, 0);
                if (n < 0)
                    abort(); /* only on bad arguments, or before the kernel has entropy */
                got += (size_t)n;
            }
            left = sizeof pool;
        }
        size_t take = len < left ? len : left;
        memcpy(b, pool + sizeof pool - left, take);
        memset(pool + sizeof pool - left, 0, take); /* used bytes do not linger */
        left -= take;
        b += take;
        len -= take;
    }
}

static void format(const uint8_t b[16], char out[SA_UUID_LEN])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0xF];
    }
    out[o] = '\0';
}

void sa_uuid_v4(char out[SA_UUID_LEN])
{
    uint8_t b[16];
    random_bytes(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    format(b, out);
}

/* v7 ids made by this process increase strictly (RFC 9562, method 1: a 12-bit counter in
 * rand_a): several in the same millisecond still sort in creation order, which the
 * checkpoint savers rely on ("latest" is the greatest id). */
static pthread_mutex_t v7_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t v7_last_ms;
static unsigned v7_counter;

void sa_uuid_v7(char out[SA_UUID_LEN])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    pthread_mutex_lock(&v7_lock);
    if (ms > v7_last_ms) {
        v7_last_ms = ms;
        v7_counter = 0;
    } else if (++v7_counter > 0xFFF) { /* 4096 ids in one millisecond: borrow the next */
        v7_last_ms++;
        v7_counter = 0;
    }
    ms = v7_last_ms;
    unsigned counter = v7_counter;
    pthread_mutex_unlock(&v7_lock);
    uint8_t b[16];
    random_bytes(b + 8, 8);
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | (counter >> 8));
    b[7] = (uint8_t)(counter & 0xFF);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    format(b, out);
}

char *sa_uuid_lower(const char *s, char out[SA_UUID_LEN])
{
    for (size_t i = 0; i < SA_UUID_LEN - 1; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[SA_UUID_LEN - 1] = '\0';
    return out;
}

bool sa_uuid_valid(const char *s, size_t len)
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}
