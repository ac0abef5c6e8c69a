/* Fuzz driver for everything a client body reaches before an agent answers: the guarded
 * JSON parser, lead validation, the company-size and money parsers, scoring and the output
 * JSON. Invariants checked: no crash or sanitizer report; a lead that validates always
 * yields an output object (jansson refuses invalid UTF-8, so a NULL here means text was
 * cut inside a character); factors add up to the score. Built with libFuzzer under clang
 * (make fuzz), or with replay.c as a deterministic corpus-and-mutation run in make test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/lead.h"
#include "domain/scoring.h"
#include "base/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sa_model *model;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz invariant broken: %s\n", what);
        abort();
    }
}

static void free_model(void)
{
    sa_model_free(model);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!model) {
        struct sa_err err = {0};
        if (sa_model_load(SA_SOURCE_DIR "/data", &model, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            abort();
        }
        atexit(free_model);
    }
    /* the raw bytes as a company size and as money */
    char text[256];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    long a, b;
    double usd;
    if (sa_parse_company_size(text, &a, &b) == 0)
        check(a >= 1 && (b == SA_UNKNOWN || b >= a), "company size range");
    if (sa_parse_money(text, &usd) == 0)
        check(usd >= 0 && usd <= 1e13, "money range");

    json_t *body;
    long pos;
    struct sa_err err = {0};
    if (sa_json_parse_body((const char *)data, size, SA_JSON_MAX_DEPTH, &body, &pos, &err))
        return 0;
    json_t *input = json_object_get(body, "input");
    if (!input)
        input = body;
    json_t *detail = json_array();
    struct sa_lead lead;
    if (sa_lead_parse(input, "body.input", &lead, detail) == 0) {
        check(json_array_size(detail) == 0, "valid lead with details");
        struct sa_score s;
        sa_model_score(model, &lead, &s);
        int sum = 0;
        for (int i = 0; i < SA_F_COUNT; i++)
            sum += s.factors[i].points;
        check(sum == s.score && s.score >= 0 && s.score <= 100, "factors add up to the score");
        json_t *out = sa_score_to_json(model, &s);
        check(out != NULL, "output JSON built (valid UTF-8)");
        char *dump = json_dumps(out, JSON_COMPACT);
        check(dump != NULL, "output JSON dumped");
        free(dump);
        json_decref(out);
        sa_lead_clear(&lead);
    } else {
        check(json_array_size(detail) > 0, "invalid lead without details");
        char *dump = json_dumps(detail, JSON_COMPACT);
        check(dump != NULL, "details dumped");
        free(dump);
    }
    json_decref(detail);
    json_decref(body);
    return 0;
}
