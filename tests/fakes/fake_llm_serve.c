/* The fake vendor as a process, for checks written in other languages
 * (tests/sdk/check_sdk.mjs runs the vendors' official SDKs against it):
 *   fake_llm_serve openai|anthropic [KEY]
 * prints its base URL on the first line of stdout, answers every request with its default
 * answer until stdin closes, then prints how many requests it saw and exits 1 when any
 * broke the wire format (with the first reason on stderr). */
#include <stdio.h>
#include <string.h>

#include "fake_llm.h"

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "openai") != 0 && strcmp(argv[1], "anthropic") != 0)) {
        fprintf(stderr, "usage: fake_llm_serve openai|anthropic [KEY]\n");
        return 2;
    }
    struct fake_llm *f = fake_llm_start(strcmp(argv[1], "openai") == 0 ? FAKE_OPENAI
                                                                        : FAKE_ANTHROPIC);
    if (!f) {
        fprintf(stderr, "fake_llm_serve: cannot listen\n");
        return 2;
    }
    if (argc > 2)
        fake_llm_expect_key(f, argv[2]);
    printf("%s\n", fake_llm_base_url(f));
    fflush(stdout);
    char buf[256];
    while (fgets(buf, sizeof buf, stdin))
        ;
    const char *why = NULL;
    size_t bad = fake_llm_invalid(f, &why);
    printf("requests %zu malformed %zu\n", fake_llm_requests(f), bad);
    if (bad)
        fprintf(stderr, "fake_llm_serve: first malformed request: %s\n", why);
    fake_llm_stop(f);
    return bad ? 1 : 0;
}
