/* The openai wire format: being written (issue 14); until then every call fails with
 * SA_ENOTIMPL, and nothing opens a provider (LLM_PROVIDER is not read yet). */
#include <string.h>

#include "llm/provider.h"
#include "llm/wire.h"

static int complete(struct sa_llm_provider *p, const struct sa_llm_request *req,
                    struct sa_llm_result *res, struct sa_err *err)
{
    (void)p;
    (void)req;
    memset(res, 0, sizeof *res);
    res->failure = SA_LLM_FAIL_NOT_CONFIGURED;
    return sa_err_set(err, SA_ENOTIMPL, "llm: the openai wire format is not built yet");
}

const struct sa_llm_provider_ops sa_llm_openai_ops = {.wire = "openai", .complete = complete};
