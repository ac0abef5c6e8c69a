/* The JSON Schemas (text) of the agents' input and outputs, served by
 * GET /api/agents/{agent_type}/schema and named by the agents' ops. Static data. */
#ifndef SA_DOMAIN_SCHEMAS_H
#define SA_DOMAIN_SCHEMAS_H

extern const char sa_schema_lead_input[], sa_schema_qualification_output[],
    sa_schema_enrichment_output[], sa_schema_growth_output[], sa_schema_marketing_output[],
    sa_schema_conversation_input[], sa_schema_conversation_output[];

#endif
