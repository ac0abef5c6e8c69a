/* The route table: every endpoint the server answers. */
#include "http/http.h"

const struct sa_route sa_routes[] = {
    {"GET", "/", sa_route_root, false},
    {"GET", "/health", sa_route_health, false},
    {"GET", "/metrics", sa_route_metrics, false},
    {"POST", "/api/langgraph/invoke", sa_route_invoke, true},
    {"GET", "/api/agents/status", sa_route_agents_status, false},
    {"POST", "/api/agents/{agent_type}/reset", sa_route_agent_reset, false},
    {"GET", "/api/leads", sa_route_leads_list, false},
    {"GET", "/api/leads/{id}", sa_route_lead_get, false},
    {"POST", "/api/langgraph/stream", sa_route_stream, true},
    {"GET", "/api/langgraph/state/{thread_id}", sa_route_thread_state, false},
    {"GET", "/api/threads/{thread_id}/state", sa_route_thread_state, false},
    {"GET", "/api/threads/{thread_id}/history", sa_route_thread_history, false},
};
const unsigned sa_routes_count = sizeof sa_routes / sizeof sa_routes[0];
