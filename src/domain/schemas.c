/* JSON Schemas of the agents' input (the seed's AgentInput, shared) and outputs, served
 * by GET /api/agents/{agent_type}/schema so clients can validate what they send and
 * read. Kept beside the code that produces the outputs; tests check a live output
 * against the required keys. */
#include "domain/schemas.h"

const char sa_schema_lead_input[] =
    "{\"type\":\"object\",\"required\":[\"company_name\"],\"properties\":{"
    "\"company_name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":255},"
    "\"industry\":{\"type\":\"string\",\"maxLength\":100},"
    "\"company_size\":{\"type\":[\"string\",\"integer\"],\"description\":"
    "\"1-10, 50-200, 1000+, Enterprise, SMB, mid-market, or a number\"},"
    "\"annual_revenue\":{\"type\":[\"string\",\"number\"],\"description\":\"USD: 25000000, $12M, "
    "1.2B\"},"
    "\"website\":{\"type\":\"string\"},\"country\":{\"type\":\"string\"},"
    "\"timezone\":{\"type\":\"string\",\"description\":\"the contact's IANA zone, e.g. "
    "America/Los_Angeles (meeting times); else state/city and country decide\"},"
    "\"state\":{\"type\":\"string\",\"description\":\"state or province: US CA or "
    "California\"},\"city\":{\"type\":\"string\"},"
    "\"signals\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"maxItems\":50},"
    "\"notes\":{\"type\":\"string\",\"maxLength\":10000},"
    "\"contact_info\":{\"type\":\"object\",\"description\":\"the contact; email, first_name "
    "and last_name, name, title (job_title), phone and linkedin_url may also be given at the "
    "top level: they move here when it lacks them\",\"properties\":{\"name\":{\"type\":\"string\"},"
    "\"title\":{\"type\":\"string\"},\"email\":{\"type\":\"string\",\"format\":\"email\"},"
    "\"phone\":{\"type\":\"string\"},\"linkedin_url\":{\"type\":\"string\"}}}},"
    "\"additionalProperties\":true}";

const char sa_schema_qualification_output[] =
    "{\"type\":\"object\",\"required\":[\"score\",\"tier\",\"reasoning\",\"factors\","
    "\"processing_time\"],\"properties\":{\"score\":{\"type\":\"integer\",\"minimum\":0,"
    "\"maximum\":100},\"tier\":{\"enum\":[\"A\",\"B\",\"C\",\"D\"]},\"reasoning\":{\"type\":"
    "\"string\"},"
    "\"recommendation\":{\"type\":\"string\"},\"factors\":{\"type\":\"array\",\"items\":{"
    "\"type\":\"object\",\"required\":[\"name\",\"value\",\"points\",\"max_points\"]}},"
    "\"enriched_fields\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
    "\"description\":\"in the pipeline: the lead fields filled from enrichment before "
    "scoring\"},"
    "\"narrative\":{\"type\":\"string\",\"description\":\"with LLM_PROVIDER set: the "
    "model's explanation of the score (the score itself is always the rules')\"},"
    "\"engine\":{\"enum\":[\"llm\",\"rules\"],\"description\":\"with LLM_PROVIDER set: "
    "who wrote the narrative\"},"
    "\"fallback_reason\":{\"type\":\"string\",\"description\":\"engine rules: why the "
    "model's narrative is absent (timeout, invalid_output, breaker_open, budget, ...)\"},"
    "\"llm\":{\"type\":\"object\",\"description\":\"engine llm: provider, model, "
    "input_tokens, output_tokens, cached_tokens, cost_usd, seconds\"},"
    "\"processing_time\":{\"type\":\"number\"}}}";

const char sa_schema_enrichment_output[] =
    "{\"type\":\"object\",\"required\":[\"company\",\"contact\",\"cache_hit\",\"confidence\","
    "\"sources\",\"field_sources\",\"processing_time\"],\"properties\":{\"company\":"
    "{\"type\":[\"object\",\"null\"]},"
    "\"contact\":{\"type\":\"object\"},\"matched_by\":{\"enum\":[\"domain\",\"name\",null]},"
    "\"cache_hit\":{\"type\":\"boolean\"},\"confidence\":{\"type\":\"number\"},"
    "\"sources\":{\"type\":\"array\"},\"processing_time\":{\"type\":\"number\"},"
    "\"person\":{\"type\":\"object\",\"description\":\"the contact as a provider knows "
    "them (name, title, seniority, linkedin_url, email_status, headline)\"},"
    "\"field_sources\":{\"type\":\"object\",\"additionalProperties\":{\"type\":"
    "\"string\"},\"description\":\"which provider each field came from: "
    "{\\\"company.industry\\\": \\\"apollo\\\", \\\"person.title\\\": ...}\"}}}";

const char sa_schema_growth_output[] =
    "{\"type\":\"object\",\"required\":[\"market\",\"competitive_landscape\",\"growth_score\","
    "\"factors\",\"summary\",\"processing_time\"],\"properties\":{\"market\":{\"type\":"
    "[\"object\",\"null\"]},\"competitive_landscape\":{\"type\":\"object\"},\"growth_score\":{"
    "\"type\":\"integer\",\"minimum\":0,\"maximum\":100},\"growth_band\":{\"enum\":[\"high\","
    "\"moderate\",\"low\"]},\"factors\":{\"type\":\"array\"},\"summary\":{\"type\":\"string\"},"
    "\"narrative\":{\"type\":\"string\",\"description\":\"with LLM_PROVIDER set: the "
    "model's narrative of the opportunity (the score is always the rules')\"},"
    "\"engine\":{\"enum\":[\"llm\",\"rules\"]},\"fallback_reason\":{\"type\":\"string\"},"
    "\"llm\":{\"type\":\"object\"},"
    "\"processing_time\":{\"type\":\"number\"}}}";

const char sa_schema_marketing_output[] =
    "{\"type\":\"object\",\"required\":[\"strategy\",\"channels\",\"cadence\",\"content\","
    "\"errors\",\"processing_time\"],\"properties\":{\"strategy\":{\"type\":\"object\"},"
    "\"channels\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"day\","
    "\"channel\",\"template\"]}},\"cadence\":{\"type\":\"object\"},\"content\":{\"type\":"
    "\"object\"},\"errors\":{\"type\":\"array\"},\"processing_time\":{\"type\":\"number\"}}}";

const char sa_schema_conversation_input[] =
    "{\"type\":\"object\",\"required\":[\"message\"],\"properties\":{"
    "\"message\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":5000,\"description\":"
    "\"the prospect's message; send thread_id beside input to continue a conversation\"},"
    "\"contact\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
    "\"email\":{\"type\":\"string\",\"format\":\"email\"}}},"
    "\"company_name\":{\"type\":\"string\"},"
    "\"language\":{\"type\":\"string\",\"pattern\":\"^[a-z]{2}$\",\"description\":"
    "\"the language to reply in (ISO 639-1; default en): the profile's replies in it, else "
    "the turn is left to a human\"}}}";

const char sa_schema_conversation_output[] =
    "{\"type\":\"object\",\"required\":[\"reply\",\"intent\",\"confidence\",\"alternatives\","
    "\"stage\",\"previous_stage\",\"suggested_actions\",\"do_not_contact\",\"turn\",\"history\"],"
    "\"properties\":{\"reply\":{\"type\":[\"string\",\"null\"],\"description\":"
    "\"null when no automatic reply is sent (needs_human, or an out-of-office notice)\"},"
    "\"intent\":{\"type\":\"string\"},"
    "\"confidence\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1},"
    "\"alternatives\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":"
    "[\"intent\",\"confidence\"]}},\"stage\":{\"enum\":[\"introduction\",\"qualification\","
    "\"value_proposition\",\"needs_analysis\",\"solution\",\"objection_handling\","
    "\"close\",\"closed_lost\"]},"
    "\"previous_stage\":{\"type\":[\"string\",\"null\"]},"
    "\"suggested_actions\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"meeting_slots\":{\"type\":\"array\"},\"do_not_contact\":{\"type\":\"boolean\"},"
    "\"turn\":{\"type\":\"integer\",\"minimum\":1},\"history\":{\"type\":\"array\"},"
    "\"followups_cancelled\":{\"type\":\"integer\",\"minimum\":0},"
    "\"needs_human\":{\"type\":\"boolean\",\"description\":\"a person should answer this "
    "turn (see needs_human_reason)\"},"
    "\"needs_human_reason\":{\"enum\":[\"low_confidence\",\"no_reply_in_language\","
    "\"profile_has_no_answer\",\"reply_failed\"]},"
    "\"hold_followups\":{\"type\":\"boolean\",\"description\":\"an out-of-office notice: "
    "queued follow-ups should wait\"},"
    "\"language\":{\"type\":\"string\",\"description\":\"the reply's language: the one "
    "asked for, else the message's, else the thread's so far, else en\"},"
    "\"detected_language\":{\"type\":\"string\",\"description\":\"the language the "
    "message is written in (en, de, fr, es, it, pt, nl; empty when unsure)\"},"
    "\"return_date\":{\"type\":\"string\",\"format\":\"date\",\"description\":"
    "\"out_of_office: the day the contact says they are back\"},"
    "\"followups_postponed\":{\"type\":\"integer\",\"minimum\":0,\"description\":"
    "\"out_of_office with a return date: queued follow-ups moved to the day after it, "
    "keeping their spacing\"},"
    "\"referral\":{\"type\":\"object\",\"description\":\"referral: the colleague the "
    "message names\",\"properties\":{\"name\":{\"type\":\"string\"},\"email\":{\"type\":"
    "\"string\"}}}}}";
