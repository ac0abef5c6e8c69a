/* The lead pipeline: the agents wired as a state graph with the seed's AgentState as
 * channels. enrichment -> qualification -> (tier D: nurture, end) -> growth -> marketing
 * -> bdr. With a model (explain_apart), qualification's narrative is written in a node of
 * its own, "explain", beside growth (the two model calls overlap), and marketing joins
 * them. Checkpointed on every super-step through a graph saver. */
#ifndef SA_AGENTS_PIPELINE_H
#define SA_AGENTS_PIPELINE_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"
#include "graph/graph.h"

struct sa_agents;
struct sa_model;
struct graph_saver;
struct sa_pipeline;

/* Builds and compiles the pipeline over agents and model (borrowed; MUST outlive it)
 * with saver (borrowed, may be NULL for no checkpoints). step_delay_ms (config:
 * PIPELINE_STEP_DELAY_MS, 0 in production) pauses before each agent, to watch a run
 * stream step by step or to kill a server mid-run in a test. */
int sa_pipeline_new(struct sa_agents *agents, const struct sa_model *model,
                    struct graph_saver *saver, int step_delay_ms, bool explain_apart,
                    struct sa_pipeline **out, struct sa_err *err) SA_WUR;
void sa_pipeline_free(struct sa_pipeline *p);

/* Runs the pipeline for a lead (input: the validated lead JSON, borrowed) stored as
 * lead_id (NULL: none) on thread_id, streaming events to the subscriber. The ids are in
 * the state ("lead_id", "thread_id"), so what the run queues (the outbox) carries them.
 * input_hook (may be NULL) is called around the input checkpoint (graph_input_hook).
 * res as graph_invoke's. */
int sa_pipeline_run(struct sa_pipeline *p, const json_t *lead, const char *thread_id,
                    const char *lead_id, unsigned stream_modes, graph_stream_fn on_event,
                    void *event_arg, const volatile int *cancel,
                    const struct graph_input_hook *input_hook, struct graph_result *res,
                    struct sa_err *err) SA_WUR;

/* Continues thread_id from its last checkpoint (after a restart); cancel as in
 * graph_run_opts. SA_ENOTFOUND when the thread has no checkpoint. */
int sa_pipeline_continue(struct sa_pipeline *p, const char *thread_id, unsigned stream_modes,
                         graph_stream_fn on_event, void *event_arg, const volatile int *cancel,
                         struct graph_result *res, struct sa_err *err) SA_WUR;

/* The compiled graph (for the thread API). */
/* Resumes the thread's pending interrupt with resume (borrowed): a value, or
 * {interrupt_id: value}. */
int sa_pipeline_resume(struct sa_pipeline *p, const char *thread_id, const json_t *resume,
                       struct graph_result *res, struct sa_err *err) SA_WUR;
const struct graph *sa_pipeline_graph(const struct sa_pipeline *p);

#endif
