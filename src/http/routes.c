/* The route table: every endpoint the server answers, with the scope it needs, a summary
 * and its schemas. GET / lists it; an OpenAPI document and the access check derive from
 * it. Order matters only where two templates match one path: the first wins. */
#include "http/http.h"

#define R(m, p, h, body, scope, summary, req, resp)                                                \
    {                                                                                              \
        m, p, h, SA_BODY_##body, SA_SCOPE_##scope, summary, req, resp                              \
    }

const struct sa_route sa_routes[] = {
    R("GET", "/", sa_route_root, NONE, PUBLIC, "Service name, version and the route list", NULL,
      "Index"),
    R("GET", "/health", sa_route_health, NONE, PUBLIC,
      "Liveness and each backend's check; 503 when degraded", NULL, "Health"),
    R("GET", "/metrics", sa_route_metrics, NONE, READ, "Prometheus metrics (text exposition)", NULL,
      "PrometheusText"),
    R("POST", "/api/langgraph/invoke", sa_route_invoke, JSON, WRITE,
      "Run an agent or the pipeline on a lead (SSE when stream is set)", "InvokeRequest",
      "InvokeResponse"),
    R("POST", "/api/langgraph/stream", sa_route_stream, JSON, WRITE,
      "Invoke, always answered as server-sent events", "InvokeRequest", "EventStream"),
    R("GET", "/api/agents/status", sa_route_agents_status, NONE, READ,
      "Each agent's state, invocations, errors and latencies", NULL, "AgentsStatus"),
    R("POST", "/api/agents/{agent_type}/reset", sa_route_agent_reset, NONE, ADMIN,
      "Clear an agent's counters", NULL, "AgentReset"),
    R("GET", "/api/agents/{agent_type}/schema", sa_route_agent_schema, NONE, READ,
      "An agent's input and output JSON Schemas", NULL, "AgentSchema"),
    R("GET", "/api/leads", sa_route_leads_list, NONE, READ,
      "Leads, filtered by tier, score and text, paginated", NULL, "LeadPage"),
    R("POST", "/api/leads/import", sa_route_leads_import, CSV, WRITE,
      "Import leads from a CRM CSV export (?partial=true keeps the valid rows)", "LeadsCsv",
      "ImportReport"),
    R("GET", "/api/leads/{id}", sa_route_lead_get, NONE, READ, "A lead with its executions", NULL,
      "Lead"),
    R("POST", "/api/runs", sa_route_runs_create, JSON, WRITE,
      "Queue a background pipeline run (202)", "RunRequest", "RunQueued"),
    R("GET", "/api/runs/{run_id}", sa_route_run_get, NONE, READ, "A run's status and result", NULL,
      "Run"),
    R("GET", "/api/runs/{run_id}/stream", sa_route_run_stream, NONE, READ,
      "A run's events as server-sent events, from its start", NULL, "EventStream"),
    R("POST", "/api/runs/{run_id}/cancel", sa_route_run_cancel, NONE, WRITE,
      "Ask a queued or running run to stop", NULL, "RunCancelling"),
    R("GET", "/api/contacts/{email}", sa_route_contact_get, NONE, READ,
      "A contact's consent (do-not-contact) record", NULL, "Contact"),
    R("POST", "/api/contacts/{email}/do-not-contact", sa_route_contact_dnc, JSON, WRITE,
      "Mark a contact do-not-contact (optional {reason})", "DoNotContactRequest", "Contact"),
    R("GET", "/api/approvals", sa_route_approvals_list, NONE, READ,
      "Human approvals of the BDR workflow, newest first", NULL, "ApprovalList"),
    R("GET", "/api/approvals/{approval_id}", sa_route_approval_get, NONE, READ, "One approval",
      NULL, "Approval"),
    R("POST", "/api/approvals/{approval_id}", sa_route_approval_decide, JSON, APPROVE,
      "Answer an approval with an Agent Inbox HumanResponse; the run continues", "HumanResponse",
      "ApprovalDecision"),
    R("GET", "/api/outbox", sa_route_outbox_list, NONE, READ,
      "Outgoing e-mail: queued, sent, failed and cancelled items", NULL, "OutboxList"),
    R("GET", "/api/langgraph/state/{thread_id}", sa_route_thread_state, NONE, READ,
      "A thread's latest state (the original's route)", NULL, "ThreadState"),
    R("GET", "/api/threads/{thread_id}/state", sa_route_thread_state, NONE, READ,
      "A thread's latest state", NULL, "ThreadState"),
    R("GET", "/api/threads/{thread_id}/history", sa_route_thread_history, NONE, READ,
      "A thread's checkpoints, newest first", NULL, "ThreadHistory"),
};
const unsigned sa_routes_count = sizeof sa_routes / sizeof sa_routes[0];

const char *sa_scope_name(enum sa_scope s)
{
    static const char *const names[] = {"public", "read", "write", "approve", "admin"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}
