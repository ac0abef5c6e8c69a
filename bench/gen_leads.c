/* Writes a HubSpot-style contact export of N rows to stdout, for the import benchmark
 * (bench/bench_import.sh): `gen_leads ROWS [SEED]`. Realistic on purpose: HubSpot's own
 * column names, non-ASCII names, quoted cells with commas, rows without an e-mail, and
 * about 5% of rows repeating an earlier contact's e-mail (other case), which the import
 * folds as in-file duplicates. Deterministic for a given seed. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t state;

static uint32_t next(void) /* xorshift64*: fast and reproducible, no libc rand state */
{
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return (uint32_t)((state * 2685821657736338717ull) >> 32);
}

#define PICK(a) ((a)[next() % (sizeof(a) / sizeof((a)[0]))])

static const char *const firsts[] = {"Zoë",  "Renée", "Łukasz", "José",  "Anna",  "Dan",
                                     "Maya", "Jörg",  "Siân",   "Ólafur", "Priya", "Kenji",
                                     "Chloé", "Mario", "Fatima", "Noah",  "Ana",   "Søren"};
static const char *const lasts[] = {"Müller", "Ortiz",  "Nguyen", "Kowalski", "García", "O'Brien",
                                    "Šimek",  "Dubois", "Tanaka", "Rossi",    "Smith",  "Ødegaard",
                                    "Patel",  "Chen",   "Weiß",   "Lindqvist"};
static const char *const titles[] = {"CEO",
                                     "VP of Sales",
                                     "Head of Marketing",
                                     "\"Director, Revenue Operations\"",
                                     "Software Engineer",
                                     "CTO",
                                     "Account Executive",
                                     "Founder & CEO"};
static const char *const industries[] = {"Computer Software", "Information Technology",
                                         "Financial Services", "Retail", "Healthcare",
                                         "Manufacturing", "Marketing and Advertising"};
static const char *const countries[] = {"Germany", "United States", "France", "Poland",
                                        "Japan",   "Brazil",        "Norway", "Côte d'Ivoire"};
static const char *const sizes[] = {"10", "50", "200", "350", "1200", "5000", "11-50", ""};
static const char *const revenues[] = {"1000000", "€25M", "EUR 25M", "$1.2B", "35000000", ""};
static const char *const statuses[] = {"New", "Open", "In Progress", "Connected"};
static const char *const stems[] = {"helio", "quorv", "nimbus", "vertex", "brisk", "atlas",
                                    "lumen", "cobalt", "pivot", "tandem"};
static const char *const tails[] = {"robotics", "soft", "labs", "data", "systems", "cloud"};

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: gen_leads ROWS [SEED]\n");
        return 2;
    }
    char *end;
    errno = 0;
    unsigned long long rows = strtoull(argv[1], &end, 10);
    if (errno || *end || end == argv[1]) {
        fprintf(stderr, "gen_leads: ROWS must be a number\n");
        return 2;
    }
    state = argc == 3 ? strtoull(argv[2], NULL, 10) | 1 : 0x9E3779B97F4A7C15ull;
    puts("First Name,Last Name,Email,Job Title,Company Name,Website URL,Industry,"
         "Number of Employees,Annual Revenue,Country/Region,Phone Number,Lead Status,"
         "Record ID");
    for (unsigned long long r = 1; r <= rows; r++) {
        unsigned long long person = r;
        int dup = r > 20 && next() % 100 < 5; /* an earlier contact again */
        if (dup)
            person = 1 + next() % (r - 1);
        /* the company follows the person: one of ~rows/4, so colleagues share one */
        unsigned long long co = person * 2654435761ull % (rows / 4 + 1);
        const char *stem = stems[co % 10], *tail = tails[(co / 10) % 6];
        const char *first = PICK(firsts), *last = PICK(lasts);
        printf("%s,%s,", first, last);
        if (next() % 100 < 3 && !dup)
            printf(",");                                  /* no e-mail */
        else
            printf("%s%llu@%s%s%llu.com,", dup ? "Contact" : "contact", person, stem, tail,
                   co); /* a duplicate differs in case only */
        printf("%s,\"%s %s %llu, Inc.\",https://www.%s%s%llu.com,%s,%s,%s,%s,+49 30 %06" PRIu32
               ",%s,%llu\n",
               PICK(titles), stem, tail, co, stem, tail, co, PICK(industries), PICK(sizes),
               PICK(revenues), PICK(countries), next() % 1000000, PICK(statuses), 100000 + r);
    }
    return fflush(stdout) ? 1 : 0;
}
