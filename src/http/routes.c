/* The route table: every endpoint the server answers. */
#include "http/http.h"

const struct sa_route sa_routes[] = {
    {"GET", "/", sa_route_root, SA_BODY_NONE},
    {"GET", "/health", sa_route_health, SA_BODY_NONE},
    {"GET", "/metrics", sa_route_metrics, SA_BODY_NONE},
    {"POST", "/api/langgraph/invoke", sa_route_invoke, SA_BODY_JSON},
    {"GET", "/api/agents/status", sa_route_agents_status, SA_BODY_NONE},
    {"POST", "/api/agents/{agent_type}/reset", sa_route_agent_reset, SA_BODY_NONE},
    {"GET", "/api/agents/{agent_type}/schema", sa_route_agent_schema, SA_BODY_NONE},
    {"GET", "/api/leads", sa_route_leads_list, SA_BODY_NONE},
    {"POST", "/api/leads/import", sa_route_leads_import, SA_BODY_CSV},
    {"GET", "/api/leads/{id}", sa_route_lead_get, SA_BODY_NONE},
    {"POST", "/api/langgraph/stream", sa_route_stream, SA_BODY_JSON},
    {"POST", "/api/runs", sa_route_runs_create, SA_BODY_JSON},
    {"GET", "/api/contacts/{email}", sa_route_contact_get, SA_BODY_NONE},
    {"POST", "/api/contacts/{email}/do-not-contact", sa_route_contact_dnc, SA_BODY_JSON},
    {"GET", "/api/approvals", sa_route_approvals_list, SA_BODY_NONE},
    {"GET", "/api/approvals/{approval_id}", sa_route_approval_get, SA_BODY_NONE},
    {"POST", "/api/approvals/{approval_id}", sa_route_approval_decide, SA_BODY_JSON},
    {"GET", "/api/outbox", sa_route_outbox_list, SA_BODY_NONE},
    {"GET", "/api/runs/{run_id}", sa_route_run_get, SA_BODY_NONE},
    {"GET", "/api/runs/{run_id}/stream", sa_route_run_stream, SA_BODY_NONE},
    {"POST", "/api/runs/{run_id}/cancel", sa_route_run_cancel, SA_BODY_NONE},
    {"GET", "/api/langgraph/state/{thread_id}", sa_route_thread_state, SA_BODY_NONE},
    {"GET", "/api/threads/{thread_id}/state", sa_route_thread_state, SA_BODY_NONE},
    {"GET", "/api/threads/{thread_id}/history", sa_route_thread_history, SA_BODY_NONE},
};
const unsigned sa_routes_count = sizeof sa_routes / sizeof sa_routes[0];
