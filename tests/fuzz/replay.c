/* A libFuzzer stand-in for make test (gcc has no libFuzzer): runs every file of the given
 * corpus directories through LLVMFuzzerTestOneInput, then deterministic mutations of each
 * (byte flips, insertions of interesting bytes, truncations; fixed seed, so a failure
 * reproduces). Usage: replay [-n MUTATIONS_PER_FILE] DIR... */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void mutate(uint8_t *buf, size_t *len, size_t cap)
{
    static const uint8_t interesting[] = {'"', '\\', '{',  '}',  '[',  ']',  ',',  ':', '0',
                                          '-', 0xC3, 0xA9, 0xFF, 0x00, 0xE2, 0x80, ' ', 'e'};
    size_t ops = 1 + next() % 4;
    for (size_t k = 0; k < ops; k++) {
        size_t at = *len ? (size_t)(next() % *len) : 0;
        switch (next() % 4) {
        case 0: /* flip a byte */
            if (*len)
                buf[at] = (uint8_t)(buf[at] ^ (1u << (next() % 8)));
            break;
        case 1: /* insert an interesting byte */
            if (*len < cap) {
                memmove(buf + at + 1, buf + at, *len - at);
                buf[at] = interesting[next() % sizeof interesting];
                (*len)++;
            }
            break;
        case 2: /* truncate */ *len = at; break;
        default: /* duplicate a run */
            if (*len && *len + 16 <= cap) {
                size_t run = 1 + next() % 16;
                if (at + run > *len)
                    run = *len - at;
                memmove(buf + at + run, buf + at, *len - at);
                (*len) += run;
            }
        }
    }
}

static int run_file(const char *path, long mutations)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    static uint8_t seed[65536], buf[65536 + 4096];
    size_t n = fread(seed, 1, sizeof seed, f);
    fclose(f);
    LLVMFuzzerTestOneInput(seed, n);
    const char *dump = getenv("SA_FUZZ_DUMP"); /* a directory: keep every mutated input */
    for (long i = 0; i < mutations; i++) {
        size_t len = n;
        memcpy(buf, seed, n);
        mutate(buf, &len, sizeof buf);
        if (dump) {
            char out[4200];
            snprintf(out, sizeof out, "%s/mut-%06ld", dump, i);
            FILE *m = fopen(out, "wb");
            if (m) {
                fwrite(buf, 1, len, m);
                fclose(m);
            }
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    return 1;
}

int main(int argc, char **argv)
{
    long mutations = 2000;
    int files = 0, first = 1;
    if (argc > 2 && strcmp(argv[1], "-n") == 0) {
        mutations = strtol(argv[2], NULL, 10);
        first = 3;
    }
    for (int a = first; a < argc; a++) {
        DIR *d = opendir(argv[a]);
        if (!d) {
            files += run_file(argv[a], mutations);
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name);
            files += run_file(path, mutations);
        }
        closedir(d);
    }
    printf("replayed %d corpus files with %ld mutations each\n", files, mutations);
    return files > 0 ? 0 : 1;
}
