/* The conversation agent (see conversation.h): a two-node graph, understand -> respond,
 * over channels messages (append), stage, last_intent, contact and turn (sum). */
#include "agents/conversation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "agents/agent.h"
#include "agents/booking.h"
#include "connectors/calendar/calendar.h"
#include "domain/intent.h"
#include "domain/lead.h"
#include "base/detail.h"
#include "graph/graph.h"
#include "store/store.h"

struct sa_conversation {
    const struct sa_intent_model *intents;
    struct sa_store *store;
    const struct sa_calendar *calendar;
    const struct sa_booking *booking; /* meetings named in replies; NULL: slots only */
    struct graph *g;
};

static const char *const stages[] = {"introduction",   "qualification", "value_proposition",
                                     "needs_analysis", "solution",      "objection_handling",
                                     "close"};

static int stage_index(const char *s)
{
    for (int i = 0; s && i < 7; i++)
        if (strcmp(s, stages[i]) == 0)
            return i;
    return -1;
}

/* The stage after a message with this intent. */
static const char *next_stage(const char *current, const char *intent)
{
    int cur = stage_index(current);
    if (strcmp(intent, "demo_request") == 0 || strcmp(intent, "meeting_scheduling") == 0)
        return "close";
    if (strncmp(intent, "objection_", 10) == 0)
        return "objection_handling";
    if (strcmp(intent, "pricing") == 0)
        return cur > 4 ? stages[cur] : "solution";
    if (strcmp(intent, "greeting") == 0)
        return cur < 0 ? "introduction" : stages[cur];
    if (strcmp(intent, "other") == 0)
        return cur < 0 ? "introduction" : cur < 3 ? stages[cur + 1] : stages[cur];
    return cur < 0 ? "introduction" : stages[cur]; /* support, unsubscribe: stay */
}

struct reply {
    const char *intent;
    const char *text; /* {name} is the contact's first name, or "there" */
    const char *actions[3];
};

static const struct reply replies[] = {
    {"greeting",
     "Hi {name}, thanks for getting back to me. What does your sales team spend "
     "most of its week on today?",
     {"qualify: ask about team size and process", NULL}},
    {"pricing",
     "Good question, {name}. Pricing is per seat with volume tiers; most teams "
     "your size land between $60 and $90 a seat a month. Shall I put together a "
     "quote for your team?",
     {"send pricing sheet", "offer a tailored quote", NULL}},
    {"demo_request",
     "Happy to show you, {name}. A live demo takes 30 minutes; here are a few "
     "times that work on our side.",
     {"book demo", "send calendar invite", NULL}},
    {"meeting_scheduling",
     "Sounds good, {name}. Here are a few slots; pick one and I will "
     "send the invite.",
     {"book meeting", "send calendar invite", NULL}},
    {"objection_price",
     "Understood, {name}. Most teams recover the cost in the first month "
     "through hours saved on research. Would a smaller pilot help you "
     "prove that first?",
     {"offer pilot", "share ROI case study", NULL}},
    {"objection_timing",
     "No problem, {name}. When would be a better time to revisit this? I "
     "can check back then.",
     {"schedule follow-up", "add to nurture", NULL}},
    {"objection_competitor",
     "Makes sense, {name}. Many of our customers run us alongside "
     "their existing tools; what would you change about your current "
     "setup if you could?",
     {"send comparison", "ask about current pain", NULL}},
    {"objection_authority",
     "Thanks, {name}. Who else should be part of this conversation? "
     "I am happy to prepare a short summary for them.",
     {"identify decision maker", "send one-page summary", NULL}},
    {"unsubscribe",
     "Understood, {name}. You will not hear from us again. Sorry for the "
     "interruption.",
     {"mark do-not-contact", NULL}},
    {"support",
     "Sorry about the trouble, {name}. I have passed this to our support team, "
     "who will reply within a business day.",
     {"open support ticket", NULL}},
    {"other",
     "Thanks, {name}. Could you tell me a bit more about what you are looking for?",
     {"clarify need", NULL}},
};

static const struct reply *reply_for(const char *intent)
{
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++)
        if (strcmp(replies[i].intent, intent) == 0)
            return &replies[i];
    return &replies[sizeof replies / sizeof replies[0] - 1];
}

static const char *last_user_message(const json_t *state)
{
    const json_t *msgs = json_object_get(state, "messages");
    for (size_t i = json_array_size(msgs); i > 0; i--) {
        const json_t *m = json_array_get(msgs, i - 1);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && strcmp(role, "user") == 0)
            return json_string_value(json_object_get(m, "content"));
    }
    return "";
}

static int understand(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    (void)ctx;
    struct sa_conversation *c = arg;
    double conf = 0;
    json_t *top = NULL;
    const char *intent = sa_intent_classify(c->intents, last_user_message(state), &conf, &top);
    const char *stage = json_string_value(json_object_get(state, "stage"));
    *update = json_pack("{s:{s:s, s:f, s:o}, s:s}", "last_intent", "intent", intent, "confidence",
                        conf, "alternatives", top, "stage", next_stage(stage, intent));
    return 0;
}

static int respond(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    struct sa_conversation *c = arg;
    const char *intent =
        json_string_value(json_object_get(json_object_get(state, "last_intent"), "intent"));
    const struct reply *rp = reply_for(intent ? intent : "other");
    const json_t *contact = json_object_get(state, "contact");
    const char *name = json_string_value(json_object_get(contact, "name"));
    char first[64] = "there";
    if (name && *name) {
        size_t n = strcspn(name, " ");
        snprintf(first, sizeof first, "%.*s", (int)(n < 63 ? n : 63), name);
    }
    /* the reply: the template with {name} filled */
    char text[1024];
    const char *at = strstr(rp->text, "{name}");
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - rp->text), rp->text, first, at + 6);
    sa_utf8_sanitize(text);
    json_t *actions = json_array();
    for (int i = 0; i < 3 && rp->actions[i]; i++)
        json_array_append_new(actions, json_string(rp->actions[i]));
    json_t *extra = json_object();
    if (!c->booking &&
        (strcmp(rp->intent, "meeting_scheduling") == 0 || strcmp(rp->intent, "demo_request") == 0))
        json_object_set_new(extra, "meeting_slots",
                            sa_calendar_slots_json(c->calendar, sa_wall_time(), 3));
    const char *email = json_string_value(json_object_get(contact, "email"));
    bool dnc = false;
    if (strcmp(rp->intent, "unsubscribe") == 0 && email && c->store) {
        struct sa_err err = {0};
        if (sa_store_contact_dnc(c->store, email, "unsubscribe", "conversation", &err))
            return graph_ctx_fail(ctx, SA_ESTORE, "could not record the unsubscribe: %s", err.msg);
        dnc = true;
    } else if (email && c->store) { /* unsubscribed earlier (here or through the API) */
        struct sa_err err = {0};
        json_t *rec = NULL;
        int rc = sa_store_contact_get(c->store, email, &rec, &err);
        if (rc && rc != SA_ENOTFOUND) {
            json_decref(extra);
            json_decref(actions);
            return graph_ctx_fail(ctx, SA_ESTORE, "could not read the contact: %s", err.msg);
        }
        dnc = json_is_true(json_object_get(rec, "do_not_contact"));
        json_decref(rec);
        if (dnc) { /* answer the message, but start nothing new */
            json_array_clear(actions);
            json_array_append_new(actions,
                                  json_string("reply only: the contact is do-not-contact"));
            json_object_del(extra, "meeting_slots");
        }
    }
    struct sa_err berr = {0}; /* a time named in the reply books it (agents/booking.h) */
    if (c->booking && !dnc &&
        sa_booking_reply(c->booking,
                         &(struct sa_booking_who){
                             .email = email,
                             .name = name,
                             .company = json_string_value(json_object_get(state, "company_name"))},
                         last_user_message(state), rp->intent, sa_wall_time(), extra, &berr)) {
        json_decref(extra);
        json_decref(actions);
        return graph_ctx_fail(ctx, SA_ESTORE, "could not book the meeting: %s", berr.msg);
    }
    /* the contact wrote back: the BDR follow-ups still queued for them are moot */
    int cancelled = 0;
    if (email && c->store) {
        struct sa_err err = {0};
        if (sa_store_outbox_cancel(c->store, NULL, email, "followup", "the contact replied",
                                   &cancelled, &err)) {
            json_decref(extra);
            json_decref(actions);
            return graph_ctx_fail(ctx, SA_ESTORE, "could not cancel follow-ups: %s", err.msg);
        }
    }
    json_object_set_new(extra, "followups_cancelled", json_integer(cancelled));
    json_object_set_new(extra, "do_not_contact", json_boolean(dnc));
    json_object_set_new(extra, "suggested_actions", actions);
    *update = json_pack("{s:[{s:s, s:s, s:s?, s:O?}], s:o}", "messages", "role", "assistant",
                        "content", text, "intent", intent, "stage", json_object_get(state, "stage"),
                        "reply_extra", extra);
    return 0;
}

int sa_conversation_new(const struct sa_intent_model *intents, struct graph_saver *saver,
                        struct sa_store *store, const struct sa_calendar *calendar,
                        struct sa_conversation **out, struct sa_err *err)
{
    *out = NULL;
    struct sa_conversation *c = calloc(1, sizeof *c);
    if (!c)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    c->intents = intents;
    c->store = store;
    c->calendar = calendar;
    struct graph_builder *b = graph_builder_new();
    graph_add_channel(b, "messages", GRAPH_APPEND, NULL, NULL, NULL);
    graph_add_channel(b, "stage", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "last_intent", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "contact", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "company_name", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "reply_extra", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "turn", GRAPH_SUM, NULL, NULL, NULL);
    graph_add_node(b, "understand", understand, c, NULL);
    graph_add_node(b, "respond", respond, c, NULL);
    graph_add_edge(b, GRAPH_START, "understand");
    graph_add_edge(b, "understand", "respond");
    graph_add_edge(b, "respond", GRAPH_END);
    struct graph_compile_opts o = {.saver = saver};
    int rc = graph_compile(b, &o, &c->g, err);
    graph_builder_free(b);
    if (rc) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void conversation_destroy(struct sa_agent *a)
{
    free(a);
}

static const struct sa_agent_ops conversation_ops = {
    .name = "conversation",
    .description = "Multi-turn sales conversation: intent, sales stage, reply, next actions",
    .input_schema = sa_schema_conversation_input,
    .output_schema = sa_schema_conversation_output,
    /* a turn's input is a message, not a lead; the engine is sa_conversation_turn */
    .entry = SA_AGENT_ENTRY_TURN,
    .check_input = sa_conversation_validate,
    .destroy = conversation_destroy,
};

struct sa_agent *sa_conversation_agent_new(void)
{
    struct sa_agent *a = calloc(1, sizeof *a);
    if (a)
        a->ops = &conversation_ops;
    return a;
}

void sa_conversation_set_booking(struct sa_conversation *c, const struct sa_booking *booking)
{
    c->booking = booking;
}

const struct graph *sa_conversation_graph(const struct sa_conversation *c)
{
    return c->g;
}

void sa_conversation_free(struct sa_conversation *c)
{
    if (!c)
        return;
    graph_free(c->g);
    free(c);
}

int sa_conversation_validate(const json_t *input, const char *pfx, json_t *detail)
{
    size_t before = json_array_size(detail);
    char loc[96];
    json_t *msg = json_object_get(input, "message");
    snprintf(loc, sizeof loc, "%s.message", pfx);
    if (!msg || json_is_null(msg))
        sa_detail_add(detail, loc, "missing", "Field required (the prospect's message)");
    else if (!json_is_string(msg))
        sa_detail_add(detail, loc, "string_type", "Input should be a valid string");
    else if (json_string_length(msg) == 0 ||
             sa_utf8_chars(json_string_value(msg), json_string_length(msg)) > 5000)
        sa_detail_add(detail, loc, "string_too_long", "A message has 1 to 5000 characters");
    json_t *contact = json_object_get(input, "contact");
    snprintf(loc, sizeof loc, "%s.contact", pfx);
    if (contact && !json_is_null(contact) && !json_is_object(contact))
        sa_detail_add(detail, loc, "dict_type", "Input should be a valid object");
    const char *email = json_string_value(json_object_get(contact, "email"));
    snprintf(loc, sizeof loc, "%s.contact.email", pfx);
    if (json_object_get(contact, "email") && (!email || !sa_email_valid(email)))
        sa_detail_add(detail, loc, "value_error", "Value is not a valid email address");
    json_t *name = json_object_get(contact, "name");
    snprintf(loc, sizeof loc, "%s.contact.name", pfx);
    if (name && (!json_is_string(name) || json_string_length(name) > 255))
        sa_detail_add(detail, loc, "string_type", "A name is a string of up to 255 characters");
    return json_array_size(detail) > before ? SA_EINVAL : 0;
}

int sa_conversation_turn(struct sa_conversation *c, const char *thread_id, const json_t *input,
                         json_t **output, struct sa_err *err)
{
    *output = NULL;
    json_t *in = json_pack("{s:[{s:s, s:O}], s:i}", "messages", "role", "user", "content",
                           json_object_get(input, "message"), "turn", 1);
    json_t *contact = json_object_get(input, "contact");
    if (json_is_object(contact))
        json_object_set(in, "contact", contact);
    json_t *company = json_object_get(input, "company_name");
    if (json_is_string(company))
        json_object_set(in, "company_name", company);
    json_t *prev = NULL;
    json_t *snap = NULL;
    struct sa_err e2 = {0};
    int grc = graph_get_state(c->g, thread_id, NULL, &snap, &e2);
    if (grc == SA_ECONFLICT) { /* a thread of another graph (a pipeline run) */
        json_decref(in);
        return sa_err_set(err, SA_ECONFLICT,
                          "thread %s belongs to another agent; start a new conversation "
                          "without thread_id or with a new one",
                          thread_id);
    }
    if (grc == 0)
        prev = json_incref(json_object_get(json_object_get(snap, "values"), "stage"));
    json_decref(snap);
    struct graph_run_opts o = {.thread_id = thread_id};
    struct graph_result res;
    int rc = graph_invoke(c->g, in, &o, &res, err);
    json_decref(in);
    if (rc) {
        json_decref(prev);
        return rc;
    }
    json_t *v = res.values, *msgs = json_object_get(v, "messages");
    json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
    json_t *li = json_object_get(v, "last_intent"), *extra = json_object_get(v, "reply_extra");
    *output = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:I}", "reply",
                        json_object_get(last, "content"), "intent", json_object_get(li, "intent"),
                        "confidence", json_object_get(li, "confidence"), "alternatives",
                        json_object_get(li, "alternatives"), "stage", json_object_get(v, "stage"),
                        "previous_stage", prev ? prev : json_null(), "suggested_actions",
                        json_object_get(extra, "suggested_actions"), "do_not_contact",
                        json_object_get(extra, "do_not_contact"), "history", msgs, "turn",
                        (json_int_t)json_integer_value(json_object_get(v, "turn")));
    json_object_set(*output, "followups_cancelled", json_object_get(extra, "followups_cancelled"));
    static const char *const meeting_keys[] = {"meeting_slots", "meeting", "meeting_requested"};
    for (size_t i = 0; i < 3; i++)
        if (json_object_get(extra, meeting_keys[i]))
            json_object_set(*output, meeting_keys[i], json_object_get(extra, meeting_keys[i]));
    json_decref(prev);
    graph_result_clear(&res);
    return *output ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}
