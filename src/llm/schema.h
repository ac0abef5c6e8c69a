/* Checks a model's structured answer against the JSON Schema it was asked for. Only the
 * subset the agents' answer schemas use (and the vendors' strict modes accept): type
 * (object, array, string, number, integer, boolean, null, or a list of them), properties,
 * required, additionalProperties: false, items, minItems, maxItems, enum, minLength,
 * maxLength, minimum, maximum. A keyword outside the subset is ignored, so a schema must
 * not rely on one. A provider without strict decoding may answer anything: this is what
 * stands between its answer and an agent's output. */
#ifndef SA_LLM_SCHEMA_H
#define SA_LLM_SCHEMA_H

#include <jansson.h>

#include "base/err.h"

/* 0 when value is valid against schema; else SA_EINVAL with err naming the first
 * violation by its JSON path ("$.subject: longer than 120 characters"). */
int sa_llm_schema_check(const json_t *schema, const json_t *value, struct sa_err *err) SA_WUR;

#endif
