/* The conversation agent (see conversation.h): a two-node graph, understand -> respond,
 * over channels messages (append), stage, last_intent, contact and turn (sum), and the
 * session's own channels (previous_stage, lead_id, started_at, updated_at), from which
 * the session (store/session.h) is derived. */
#include "agents/conversation.h"
#include "agents/llm_use.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "agents/agent.h"
#include "agents/booking.h"
#include "connectors/calendar/calendar.h"
#include "domain/contact.h"
#include "domain/intent.h"
#include "domain/lead.h"
#include "domain/profile.h"
#include "domain/template.h"
#include "domain/when.h"
#include "base/detail.h"
#include "base/log.h"
#include "base/uuid.h"
#include "graph/graph.h"
#include "store/session.h"
#include "store/store.h"

struct sa_conversation {
    const struct sa_intent_model *intents;
    struct sa_store *store;
    const struct sa_calendar *calendar;
    const struct sa_profile *profile; /* the replies' templates and facts */
    double review_threshold;          /* below this confidence a human answers */
    const struct sa_booking *booking; /* meetings named in replies; NULL: slots only */
    double session_ttl;               /* SESSION_TTL_SECONDS */
    struct sa_llm_use *llm;           /* rewords replies; NULL: the templates alone */
    struct graph *g;
};

static const char reply_task[] =
    "You are a B2B sales representative answering a prospect's e-mail. Reword the draft "
    "reply, which rules wrote for this message's intent and sales stage, so that it answers "
    "what the prospect wrote, in the prospect's language, in at most 120 words, plain text. "
    "Keep the draft's facts, prices, links and questions; add no price, figure, customer, "
    "link or promise that the facts or the draft do not state. Do not agree to anything the "
    "draft does not.";

static const char *const stages[] = {"introduction",   "qualification", "value_proposition",
                                     "needs_analysis", "solution",      "objection_handling",
                                     "close",          "closed_lost"};
#define N_STAGES ((int)(sizeof stages / sizeof stages[0]))

static int stage_index(const char *s)
{
    for (int i = 0; s && i < N_STAGES; i++)
        if (strcmp(s, stages[i]) == 0)
            return i;
    return -1;
}

/* The stage after a message with this intent. */
static const char *next_stage(const char *current, const char *intent)
{
    int cur = stage_index(current);
    if (strcmp(intent, "demo_request") == 0 || strcmp(intent, "meeting_scheduling") == 0 ||
        strcmp(intent, "trial_request") == 0)
        return "close";
    if (strcmp(intent, "not_interested") == 0)
        return "closed_lost";
    if (strncmp(intent, "objection_", 10) == 0)
        return "objection_handling";
    if (strcmp(intent, "pricing") == 0)
        return cur > 4 ? stages[cur] : "solution";
    if (strncmp(intent, "question_", 9) == 0)
        return cur < 0 ? "needs_analysis" : cur < 3 ? "needs_analysis" : stages[cur];
    if (strcmp(intent, "greeting") == 0)
        return cur < 0 ? "introduction" : stages[cur];
    if (strcmp(intent, "other") == 0)
        return cur < 0 ? "introduction" : cur < 3 ? stages[cur + 1] : stages[cur];
    /* support, unsubscribe, out_of_office, wrong_person, referral: stay */
    return cur < 0 ? "introduction" : stages[cur];
}

/* What the operator should do next after a message with this intent (the reply's words
 * are the profile's; these are the team's actions). */
struct next_actions {
    const char *intent;
    const char *actions[3];
};

static const struct next_actions next_actions[] = {
    {"greeting", {"qualify: ask about team size and process", NULL}},
    {"pricing", {"send pricing sheet", "offer a tailored quote", NULL}},
    {"demo_request", {"book demo", "send calendar invite", NULL}},
    {"meeting_scheduling", {"book meeting", "send calendar invite", NULL}},
    {"trial_request", {"set up the trial", "schedule an onboarding call", NULL}},
    {"objection_price", {"offer pilot", "share ROI case study", NULL}},
    {"objection_timing", {"schedule follow-up", "add to nurture", NULL}},
    {"objection_competitor", {"send comparison", "ask about current pain", NULL}},
    {"objection_authority", {"identify decision maker", "send one-page summary", NULL}},
    {"unsubscribe", {"mark do-not-contact", NULL}},
    {"not_interested", {"close as lost", "add to nurture", NULL}},
    {"out_of_office", {"hold follow-ups until the contact is back", NULL}},
    {"wrong_person", {"ask for the right contact", "update the lead's contact", NULL}},
    {"referral", {"contact the referred person", "credit the referrer", NULL}},
    {"question_integration", {"send integration details", NULL}},
    {"question_security", {"send the security overview", NULL}},
    {"support", {"open support ticket", NULL}},
    {"other", {"clarify need", NULL}},
};

static const struct next_actions *actions_for(const char *intent)
{
    size_t n = sizeof next_actions / sizeof next_actions[0];
    for (size_t i = 0; i < n; i++)
        if (strcmp(next_actions[i].intent, intent) == 0)
            return &next_actions[i];
    return &next_actions[n - 1];
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
    const char *msg = last_user_message(state);
    double conf = 0;
    json_t *top = NULL;
    (void)sa_intent_classify(c->intents, msg, &conf, &top); /* the alternatives */
    struct sa_intent_result res;
    sa_intent_analyse(c->intents, msg, sa_wall_time(), &res);
    const char *intent = res.intent;
    const char *stage = json_string_value(json_object_get(state, "stage"));
    /* the reply's language: the one the caller gave for this turn, else the one this
     * message is written in, else the thread's so far (a short "ok" says nothing), else en */
    const char *given = json_string_value(json_object_get(state, "language_given"));
    const char *before = json_string_value(json_object_get(state, "language"));
    const char *lang = given && *given     ? given
                       : res.language[0]   ? res.language
                       : before && *before ? before
                                           : "en";
    json_t *li = json_pack("{s:s, s:f, s:o, s:s}", "intent", intent, "confidence", res.confidence,
                           "alternatives", top, "detected_language", res.language);
    if (res.return_date[0])
        json_object_set_new(li, "return_date", json_string(res.return_date));
    if (res.referral_name[0] || res.referral_email[0])
        json_object_set_new(li, "referral",
                            json_pack("{s:s?, s:s?}", "name",
                                      res.referral_name[0] ? res.referral_name : NULL, "email",
                                      res.referral_email[0] ? res.referral_email : NULL));
    *update = json_pack("{s:o, s:s, s:s}", "last_intent", li, "stage", next_stage(stage, intent),
                        "language", lang);
    return 0;
}

/* The reply's variables: the profile's facts in the turn's language, the contact's first
 * name, and the competitor the message names (with the profile's positioning). */
static json_t *reply_vars(const struct sa_conversation *c, const json_t *state, const char *lang)
{
    json_t *vars = json_object();
    sa_profile_vars(c->profile, lang, vars);
    const char *name =
        json_string_value(json_object_get(json_object_get(state, "contact"), "name"));
    char first[64];
    if (sa_contact_first_name(name, first, sizeof first))
        json_object_set_new(vars, "first_name", json_string(first));
    const char *note = sa_profile_str(c->profile, "pricing.note");
    if (note && strcmp(lang, "en") == 0)
        json_object_set_new(vars, "pricing_note", json_string(note));
    const char *msg = last_user_message(state);
    size_t i;
    const json_t *comp;
    json_array_foreach(json_object_get(sa_profile_json(c->profile), "competitors"), i, comp)
    {
        const char *cn = json_string_value(json_object_get(comp, "name"));
        if (cn && strcasestr(msg, cn)) {
            json_object_set_new(vars, "competitor", json_string(cn));
            json_object_set(vars, "positioning", json_object_get(comp, "positioning"));
            break;
        }
    }
    return vars;
}

/* The reply to this turn, or NULL with *why set when a human should answer: no template
 * for the language, or a fact the template needs that the profile lacks. */
static char *write_reply(const struct sa_conversation *c, const json_t *state, const char *intent,
                         const char *lang, const char **why)
{
    const char *tmpl = sa_profile_reply(c->profile, lang, intent);
    if (!tmpl && !sa_profile_reply(c->profile, "en", intent))
        tmpl = sa_profile_reply(c->profile, lang, "other"); /* an intent with no reply */
    if (!tmpl) {
        *why = "no_reply_in_language";
        return NULL;
    }
    json_t *vars = reply_vars(c, state, lang);
    char *text = NULL;
    int rc = sa_template_render(tmpl, vars, &text, NULL);
    json_decref(vars);
    if (rc) {
        *why = rc == SA_EINVAL ? "profile_has_no_answer" : "reply_failed";
        return NULL;
    }
    sa_utf8_sanitize(text);
    return text;
}

/* The reply when the turn named a time (agents/booking.h put the result in extra): booked
 * ("meeting_booked") or not free ("meeting_unavailable", with the nearest free slots), from
 * the profile's replies in lang; NULL when the turn named no time or the profile has no
 * such reply (the intent's reply stands). */
static char *meeting_reply(const struct sa_conversation *c, const json_t *state, const char *lang,
                           const json_t *extra)
{
    const json_t *booked = json_object_get(extra, "meeting");
    const json_t *asked = json_object_get(extra, "meeting_requested");
    const char *status = json_string_value(json_object_get(booked, "status"));
    const char *key = status && strcmp(status, "confirmed") == 0 ? "meeting_booked"
                      : asked                                    ? "meeting_unavailable"
                                                                 : NULL;
    const char *tmpl = key ? sa_profile_reply(c->profile, lang, key) : NULL;
    if (!tmpl)
        return NULL;
    json_t *vars = reply_vars(c, state, lang);
    const char *local = json_string_value(json_object_get(booked ? booked : asked, "local"));
    if (local && *local)
        json_object_set_new(vars, "meeting_local", json_string(local));
    char slots[512] = "";
    size_t i, n = 0;
    const json_t *s;
    json_array_foreach(json_object_get(extra, "meeting_slots"), i, s)
    {
        const char *l = json_string_value(json_object_get(s, "local"));
        if (l && *l && i < 3)
            n += (size_t)snprintf(slots + n, n < sizeof slots ? sizeof slots - n : 0, "%s%s",
                                  n ? "; " : "", l);
    }
    if (n && n < sizeof slots)
        json_object_set_new(vars, "meeting_slots", json_string(slots));
    char *text = NULL;
    int rc = sa_template_render(tmpl, vars, &text, NULL);
    json_decref(vars);
    if (rc)
        return NULL;
    sa_utf8_sanitize(text);
    return text;
}

/* Marks the contact do-not-contact (an unsubscribe), or reads whether it is. */
static int consent(struct sa_conversation *c, const char *intent, const char *email, bool *dnc,
                   struct graph_ctx *ctx)
{
    *dnc = false;
    if (!email || !c->store)
        return 0;
    struct sa_err err = {0};
    if (strcmp(intent, "unsubscribe") == 0) {
        if (sa_store_contact_dnc(c->store, email, "unsubscribe", "conversation", &err))
            return graph_ctx_fail(ctx, SA_ESTORE, "could not record the unsubscribe: %s", err.msg);
        *dnc = true;
        return 0;
    }
    json_t *rec = NULL; /* unsubscribed earlier (here or through the API) */
    int rc = sa_store_contact_get(c->store, email, &rec, &err);
    if (rc && rc != SA_ENOTFOUND)
        return graph_ctx_fail(ctx, SA_ESTORE, "could not read the contact: %s", err.msg);
    *dnc = json_is_true(json_object_get(rec, "do_not_contact"));
    json_decref(rec);
    return 0;
}

/* An out-of-office notice that says when the contact is back (conversation.h): the first
 * follow-up arrives the day after (a careful SDR leaves them a day to catch up). */
int sa_conversation_postpone_followups(struct sa_store *store, const char *email, const char *back,
                                       int *n, struct sa_err *err)
{
    *n = 0;
    struct tm tm = {0};
    const char *end = strptime(back, "%Y-%m-%d", &tm);
    if (!end || *end)
        return 0;
    long long resume = (long long)timegm(&tm) + 86400;
    json_t *items = NULL;
    int rc = sa_store_outbox_list(store, "queued", email, 200, &items, err);
    long long earliest = 0;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        double due;
        const char *kind = json_string_value(json_object_get(it, "kind"));
        if (!rc && kind && strcmp(kind, "followup") == 0 &&
            sa_iso8601_parse(json_string_value(json_object_get(it, "due_at")), &due) == 0 &&
            (!earliest || (long long)due < earliest))
            earliest = (long long)due;
    }
    long long shift = earliest && earliest < resume ? resume - earliest : 0;
    char why[64];
    snprintf(why, sizeof why, "out of office until %.10s", back);
    json_array_foreach(items, i, it)
    {
        double due;
        const char *kind = json_string_value(json_object_get(it, "kind"));
        if (rc || !shift || !kind || strcmp(kind, "followup") != 0 ||
            sa_iso8601_parse(json_string_value(json_object_get(it, "due_at")), &due))
            continue;
        rc = sa_store_outbox_defer(store, json_string_value(json_object_get(it, "id")),
                                   (long long)due + shift, why, err);
        if (rc == SA_ECONFLICT) /* left the queue meanwhile (sent or cancelled) */
            rc = 0;
        else if (!rc)
            (*n)++;
    }
    json_decref(items);
    return rc;
}

/* The model's wording of the rules' reply *text (freed and replaced when it is used);
 * marks extra with the engine that wrote the reply. */
static void reword_reply(struct sa_conversation *c, const json_t *state, const char *intent,
                         const char *lang, char **text, json_t *extra)
{
    json_t *facts = reply_vars(c, state, lang);
    json_t *draft = json_pack("{s:s, s:s, s:O?, s:s}", "intent", intent, "language", lang, "stage",
                              json_object_get(state, "stage"), "reply", *text);
    /* the conversation so far: the prospect's words are data, and ground nothing */
    json_t *history = json_array();
    json_t *msgs = json_object_get(state, "messages");
    size_t n = json_array_size(msgs);
    for (size_t i = n > 6 ? n - 6 : 0; i < n; i++)
        json_array_append_new(history,
                              json_pack("{s:O?, s:O?}", "role",
                                        json_object_get(json_array_get(msgs, i), "role"), "content",
                                        json_object_get(json_array_get(msgs, i), "content")));
    json_t *schema = json_pack("{s:s, s:b, s:[s], s:{s:{s:s, s:i, s:i}}}", "type", "object",
                               "additionalProperties", 0, "required", "reply", "properties",
                               "reply", "type", "string", "minLength", 1, "maxLength", 1500);
    const struct sa_llm_block blocks[] = {{"facts", facts, 800, true},
                                          {"draft", draft, 4000, true},
                                          {"conversation", history, 2000, false}};
    struct sa_llm_result res = {0};
    enum sa_llm_failure why = SA_LLM_FAIL_REQUEST_REFUSED;
    int rc = facts && draft && schema
                 ? sa_llm_use_ask(c->llm, SA_AGENT_CONVERSATION, reply_task, blocks, 3, schema,
                                  "reply", sa_llm_use_names_for(lang), false, &res, &why)
                 : SA_ENOMEM;
    const char *said = json_string_value(json_object_get(res.json, "reply"));
    char *copy = !rc && said ? strdup(said) : NULL;
    if (copy) {
        free(*text);
        *text = copy;
    }
    sa_llm_use_mark(c->llm, extra, &res, copy != NULL,
                    copy || rc ? why : SA_LLM_FAIL_INVALID_OUTPUT);
    json_decref(facts);
    json_decref(draft);
    json_decref(history);
    json_decref(schema);
    sa_llm_result_clear(&res);
}

static int respond(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    struct sa_conversation *c = arg;
    const json_t *li = json_object_get(state, "last_intent");
    const char *intent = json_string_value(json_object_get(li, "intent"));
    if (!intent)
        intent = "other";
    double conf = json_number_value(json_object_get(li, "confidence"));
    const char *lang = json_string_value(json_object_get(state, "language"));
    if (!lang || !*lang)
        lang = "en";
    const json_t *contact = json_object_get(state, "contact");
    const char *email = json_string_value(json_object_get(contact, "email"));
    /* an out-of-office notice is no reply: nothing is said, follow-ups wait */
    bool ooo = strcmp(intent, "out_of_office") == 0;
    const char *why = NULL;
    char *text = NULL;
    if (conf < c->review_threshold)
        why = "low_confidence";
    else if (!ooo)
        text = write_reply(c, state, intent, lang, &why);
    json_t *actions = json_array();
    const struct next_actions *na = actions_for(intent);
    for (int i = 0; i < 3 && na->actions[i]; i++)
        json_array_append_new(actions, json_string(na->actions[i]));
    json_t *extra = json_object();
    bool dnc = false;
    /* not understood: nothing is recorded on its word (a reply a person must write because
     * no template fits is understood: an unsubscribe in Dutch still counts) */
    bool low = why && strcmp(why, "low_confidence") == 0;
    int rc = consent(c, low ? "other" : intent, email, &dnc, ctx);
    if (!rc && dnc && strcmp(intent, "unsubscribe") != 0) { /* answer, but start nothing new */
        json_array_clear(actions);
        json_array_append_new(actions, json_string("reply only: the contact is do-not-contact"));
    } else if (!rc && !why && !dnc && !c->booking &&
               (strcmp(intent, "meeting_scheduling") == 0 || strcmp(intent, "demo_request") == 0))
        json_object_set_new(extra, "meeting_slots",
                            sa_calendar_slots_json(c->calendar, sa_wall_time(), 3));
    /* a time named in the reply books it, or the nearest free slots are offered
     * (agents/booking.h); not on the word of a message the classifier was unsure of */
    struct sa_err berr = {0};
    /* a plain "yes" to the time we proposed is read by its own strict rules (domain/when.h),
     * which the model's doubt about a three-word reply does not override; the slots the
     * previous turn offered say whether there was one time to say yes to */
    const json_t *prev = json_object_get(state, "reply_extra");
    int offered = json_object_get(prev, "meeting")
                      ? 0
                      : (int)json_array_size(json_object_get(prev, "meeting_slots"));
    bool plain_yes = sa_when_is_acceptance(last_user_message(state));
    if (!rc && c->booking && !dnc && (!low || plain_yes) &&
        sa_booking_reply(c->booking,
                         &(struct sa_booking_who){
                             .email = email,
                             .name = json_string_value(json_object_get(contact, "name")),
                             .company = json_string_value(json_object_get(state, "company_name")),
                             .offered_slots = offered},
                         last_user_message(state), low ? NULL : intent, sa_wall_time(), extra,
                         &berr))
        rc = graph_ctx_fail(ctx, SA_ESTORE, "could not book the meeting: %s", berr.msg);
    bool meeting_said = false;
    bool accepted = json_is_true(json_object_get(extra, "meeting_accepted"));
    if (!rc &&
        (text || accepted)) { /* a named or accepted time: the reply says what became of it */
        char *said = meeting_reply(c, state, lang, extra);
        if (said) {
            free(text);
            text = said;
            meeting_said = true;
            if (accepted)
                why = NULL; /* booked on a plain yes: the confirmation answers it */
        }
    }
    /* a model may reword the reply, but not an unsubscribe's confirmation, a meeting's, or
     * a reply to a contact who is do-not-contact: those say exactly what the rules did */
    if (!rc && text && sa_llm_use_enabled(c->llm) && !meeting_said && !dnc &&
        strcmp(intent, "unsubscribe") != 0)
        reword_reply(c, state, intent, lang, &text, extra);
    /* the contact wrote back: the BDR follow-ups still queued for them are moot (an
     * automatic out-of-office notice is not an answer: they wait instead) */
    int cancelled = 0, postponed = 0;
    if (!rc && email && c->store && !ooo) {
        struct sa_err err = {0};
        if (sa_store_outbox_cancel(c->store, NULL, email, "followup", "the contact replied",
                                   &cancelled, &err))
            rc = graph_ctx_fail(ctx, SA_ESTORE, "could not cancel follow-ups: %s", err.msg);
    }
    const char *back = json_string_value(json_object_get(li, "return_date"));
    if (!rc && email && c->store && ooo && back) {
        struct sa_err err = {0};
        if (sa_conversation_postpone_followups(c->store, email, back, &postponed, &err))
            rc = graph_ctx_fail(ctx, SA_ESTORE, "could not postpone follow-ups: %s", err.msg);
    }
    if (rc) {
        free(text);
        json_decref(extra);
        json_decref(actions);
        return rc;
    }
    if (why) {
        json_array_insert_new(actions, 0, json_string("answer by hand"));
        json_object_set_new(extra, "needs_human_reason", json_string(why));
    }
    json_object_set_new(extra, "needs_human", json_boolean(why != NULL));
    json_object_set_new(extra, "hold_followups", json_boolean(ooo));
    if (ooo)
        json_object_set_new(extra, "followups_postponed", json_integer(postponed));
    json_object_set_new(extra, "language", json_string(lang));
    json_object_set_new(extra, "reply", text ? json_string(text) : json_null());
    json_object_set_new(extra, "followups_cancelled", json_integer(cancelled));
    json_object_set_new(extra, "do_not_contact", json_boolean(dnc));
    json_object_set_new(extra, "suggested_actions", actions);
    if (text)
        *update = json_pack("{s:[{s:s, s:s, s:s?, s:O?}], s:o}", "messages", "role", "assistant",
                            "content", text, "intent", intent, "stage",
                            json_object_get(state, "stage"), "reply_extra", extra);
    else
        *update = json_pack("{s:o}", "reply_extra", extra);
    free(text);
    return 0;
}

int sa_conversation_new(const struct sa_intent_model *intents, struct graph_saver *saver,
                        struct sa_store *store, const struct sa_calendar *calendar,
                        const struct sa_profile *profile, double review_threshold,
                        double session_ttl, struct sa_conversation **out, struct sa_err *err)
{
    *out = NULL;
    struct sa_conversation *c = calloc(1, sizeof *c);
    if (!c)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    c->intents = intents;
    c->store = store;
    c->calendar = calendar;
    c->profile = profile;
    c->review_threshold = review_threshold;
    c->session_ttl = session_ttl > 0 ? session_ttl : SA_CONVERSATION_SESSION_TTL;
    struct graph_builder *b = graph_builder_new();
    graph_add_channel(b, "messages", GRAPH_APPEND, NULL, NULL, NULL);
    graph_add_channel(b, "stage", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "last_intent", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "contact", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "company_name", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "language", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "language_given", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "reply_extra", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "turn", GRAPH_SUM, NULL, NULL, NULL);
    /* the session's: what the turn's input says about the thread (see sa_conversation_turn) */
    graph_add_channel(b, "previous_stage", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "lead_id", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "started_at", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "updated_at", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(b, "understand", understand, c, NULL);
    graph_add_node(b, "respond", respond, c, NULL);
    graph_add_edge(b, GRAPH_START, "understand");
    graph_add_edge(b, "understand", "respond");
    graph_add_edge(b, "respond", GRAPH_END);
    /* A conversation's checkpoints live as long as its session: every record expires
     * SESSION_TTL_SECONDS after it is written (the Redis saver turns that into the keys'
     * TTL, the database savers' sweep deletes the thread after it), whatever the
     * pipeline's CHECKPOINT_TTL_SECONDS. */
    struct graph_compile_opts o = {.saver = saver, .thread_ttl = c->session_ttl};
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

void sa_conversation_set_llm(struct sa_conversation *c, struct sa_llm_use *llm)
{
    c->llm = llm;
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
    json_t *lang = json_object_get(input, "language");
    snprintf(loc, sizeof loc, "%s.language", pfx);
    const char *l = json_string_value(lang);
    if (lang && !json_is_null(lang) &&
        (!l || strlen(l) != 2 || !islower((unsigned char)l[0]) || !islower((unsigned char)l[1])))
        sa_detail_add(detail, loc, "value_error",
                      "A language is a two-letter ISO 639-1 code in lower case (\"de\")");
    return json_array_size(detail) > before ? SA_EINVAL : 0;
}

/* ---- the session (store/session.h) ------------------------------------------------ */

/* The session of a thread whose latest values are v: a pure function of the checkpointed
 * state, so the Redis copy written after a turn and the one derived later agree. It holds
 * no personal data (no name, no e-mail: the contact is reached through lead_id), so a
 * Redis copy that outlives an erased lead's checkpoints until its TTL discloses nothing. */
static json_t *session_of(const struct sa_conversation *c, const char *thread_id, const json_t *v)
{
    const json_t *li = json_object_get(v, "last_intent");
    const json_t *extra = json_object_get(v, "reply_extra");
    const char *updated = json_string_value(json_object_get(v, "updated_at"));
    char expires[SA_ISO8601_LEN] = "";
    double t;
    if (updated && sa_iso8601_parse(updated, &t) == 0)
        sa_iso8601_format_ms(t + c->session_ttl, expires);
    const char *str[] = {"stage", "previous_stage", "language", "lead_id"};
    json_t *out = json_pack(
        "{s:s, s:I, s:O?, s:O?, s:b, s:O?, s:O?, s:s?}", "thread_id", thread_id, "turns",
        (json_int_t)json_integer_value(json_object_get(v, "turn")), "last_intent",
        json_object_get(li, "intent"), "last_confidence", json_object_get(li, "confidence"),
        "do_not_contact", json_is_true(json_object_get(extra, "do_not_contact")), "created_at",
        json_object_get(v, "started_at"), "updated_at", json_object_get(v, "updated_at"),
        "expires_at", expires[0] ? expires : NULL);
    for (size_t i = 0; out && i < sizeof str / sizeof str[0]; i++) {
        const json_t *x = json_object_get(v, str[i]);
        json_object_set_new(out, str[i],
                            json_is_string(x) ? json_incref((json_t *)x) : json_null());
    }
    return out;
}

bool sa_conversation_session_expired(const json_t *session, double now)
{
    double exp;
    const char *e = json_string_value(json_object_get(session, "expires_at"));
    return e && sa_iso8601_parse(e, &exp) == 0 && now >= exp;
}

/* The stored lead whose contact e-mail the turn names (input.contact, or contact_info as
 * the lead agents take it), into id; "" when none or the store cannot tell (the link is
 * best effort: the turn stands without it). */
static void lead_of_turn(struct sa_conversation *c, const json_t *input, char id[SA_UUID_LEN])
{
    id[0] = '\0';
    const json_t *contact = json_object_get(input, "contact");
    if (!contact)
        contact = json_object_get(input, "contact_info");
    const char *email = json_string_value(json_object_get(contact, "email"));
    struct sa_err err = {0};
    int rc =
        email && c->store ? sa_store_lead_by_email(c->store, email, id, NULL, &err) : SA_ENOTFOUND;
    if (rc && rc != SA_ENOTFOUND)
        sa_log(SA_LOG_WARN, "conversation turn: lead not looked up",
               json_pack("{s:s}", "error", err.msg));
    if (rc)
        id[0] = '\0';
}

/* The session channels of a turn's input: now is its updated_at (and created_at on the
 * thread's first turn), the stage before it its previous_stage, the lead its contact
 * names its lead_id (an earlier one stays when this turn names none). */
static void session_input(struct sa_conversation *c, const json_t *input, const json_t *before,
                          json_t *in)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    json_object_set_new(in, "updated_at", json_string(now));
    if (!json_is_string(json_object_get(before, "started_at")))
        json_object_set_new(in, "started_at", json_string(now));
    const json_t *stage = json_object_get(before, "stage");
    if (json_is_string(stage))
        json_object_set(in, "previous_stage", (json_t *)stage);
    char lead[SA_UUID_LEN];
    lead_of_turn(c, input, lead);
    if (lead[0])
        json_object_set_new(in, "lead_id", json_string(lead));
}

/* The thread's latest values (*before, NULL for a new thread). A thread whose session
 * expired is forgotten first (SESSION_TTL_SECONDS of silence): Redis would have dropped
 * its keys on its own clock, the database savers' sweep does so on its schedule; deleting
 * it here makes the next message start a new conversation on every backend at the same
 * moment of the business clock. SA_ECONFLICT: another graph's thread. */
static int thread_before(struct sa_conversation *c, const char *thread_id, json_t **before,
                         struct sa_err *err)
{
    *before = NULL;
    json_t *snap = NULL;
    struct sa_err e2 = {0};
    int rc = graph_get_state(c->g, thread_id, NULL, &snap, &e2);
    if (rc == SA_ECONFLICT)
        return sa_err_set(err, SA_ECONFLICT,
                          "thread %s belongs to another agent; start a new conversation "
                          "without thread_id or with a new one",
                          thread_id);
    if (rc) /* none yet (or unreadable: the run reports what it finds) */
        return 0;
    json_t *v = json_incref(json_object_get(snap, "values"));
    json_decref(snap);
    json_t *session = session_of(c, thread_id, v);
    bool expired = sa_conversation_session_expired(session, sa_wall_seconds());
    json_decref(session);
    if (!expired) {
        *before = v;
        return 0;
    }
    json_decref(v);
    return graph_delete_thread(c->g, thread_id, err);
}

int sa_conversation_turn(struct sa_conversation *c, const char *thread_id, const json_t *input,
                         json_t **output, json_t **session, struct sa_err *err)
{
    *output = NULL;
    if (session)
        *session = NULL;
    json_t *before = NULL;
    int rc = thread_before(c, thread_id, &before, err);
    if (rc)
        return rc;
    json_t *in = json_pack("{s:[{s:s, s:O}], s:i}", "messages", "role", "user", "content",
                           json_object_get(input, "message"), "turn", 1);
    json_t *contact = json_object_get(input, "contact");
    if (json_is_object(contact))
        json_object_set(in, "contact", contact);
    json_t *company = json_object_get(input, "company_name");
    if (json_is_string(company))
        json_object_set(in, "company_name", company);
    json_t *language = json_object_get(input, "language");
    json_object_set_new(in, "language_given",
                        json_is_string(language) ? json_incref(language) : json_string(""));
    session_input(c, input, before, in);
    json_t *prev = json_incref(json_object_get(before, "stage"));
    json_decref(before);
    struct graph_run_opts o = {.thread_id = thread_id};
    struct graph_result res;
    rc = graph_invoke(c->g, in, &o, &res, err);
    json_decref(in);
    if (rc) {
        json_decref(prev);
        return rc;
    }
    json_t *v = res.values, *msgs = json_object_get(v, "messages");
    json_t *li = json_object_get(v, "last_intent"), *extra = json_object_get(v, "reply_extra");
    *output = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:I}", "reply",
                        json_object_get(extra, "reply"), "intent", json_object_get(li, "intent"),
                        "confidence", json_object_get(li, "confidence"), "alternatives",
                        json_object_get(li, "alternatives"), "stage", json_object_get(v, "stage"),
                        "previous_stage", prev ? prev : json_null(), "suggested_actions",
                        json_object_get(extra, "suggested_actions"), "do_not_contact",
                        json_object_get(extra, "do_not_contact"), "history", msgs, "turn",
                        (json_int_t)json_integer_value(json_object_get(v, "turn")));
    const char *more[] = {"followups_cancelled",
                          "needs_human",
                          "needs_human_reason",
                          "hold_followups",
                          "language",
                          "followups_postponed",
                          "engine",
                          "fallback_reason",
                          "llm"};
    for (size_t i = 0; *output && i < sizeof more / sizeof more[0]; i++)
        if (json_object_get(extra, more[i]))
            json_object_set(*output, more[i], json_object_get(extra, more[i]));
    /* what the reply said beyond its intent: the language it is written in, when an
     * out-of-office contact is back, the colleague a referral names */
    const char *facts[] = {"detected_language", "return_date", "referral"};
    for (size_t i = 0; *output && i < sizeof facts / sizeof facts[0]; i++)
        if (json_object_get(li, facts[i]))
            json_object_set(*output, facts[i], json_object_get(li, facts[i]));
    static const char *const meeting_keys[] = {"meeting_slots", "meeting", "meeting_requested"};
    for (size_t i = 0; *output && i < 3; i++)
        if (json_object_get(extra, meeting_keys[i]))
            json_object_set(*output, meeting_keys[i], json_object_get(extra, meeting_keys[i]));
    json_decref(prev);
    if (*output && session && !(*session = session_of(c, thread_id, v))) {
        json_decref(*output);
        *output = NULL;
    }
    graph_result_clear(&res);
    return *output ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

/* ---- the session store derived from the checkpoints --------------------------------- */

struct checkpoint_sessions {
    struct sa_session_store base; /* first */
    struct sa_conversation *c;
};

static int cs_get(struct sa_session_store *base, const char *thread_id, json_t **out,
                  struct sa_err *err)
{
    struct checkpoint_sessions *s = (struct checkpoint_sessions *)base;
    *out = NULL;
    json_t *snap = NULL;
    int rc = graph_get_state(s->c->g, thread_id, NULL, &snap, err);
    if (rc == SA_ENOTFOUND || rc == SA_ECONFLICT) /* none, or a pipeline's thread */
        return sa_err_set(err, SA_ENOTFOUND, "no conversation session %s", thread_id);
    if (rc)
        return rc;
    *out = session_of(s->c, thread_id, json_object_get(snap, "values"));
    json_decref(snap);
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

static void cs_free(struct sa_session_store *base)
{
    free(base);
}

static const struct sa_session_store_ops checkpoint_session_ops = {
    .name = "checkpoints",
    .put = NULL, /* the turn's checkpoint holds it: sa_session_def_put */
    .get = cs_get,
    .del = NULL, /* deleting the thread deletes it: sa_session_def_del */
    .free = cs_free,
};

int sa_conversation_sessions_new(struct sa_conversation *c, struct sa_session_store **out,
                                 struct sa_err *err)
{
    *out = NULL;
    struct checkpoint_sessions *s = calloc(1, sizeof *s);
    if (!s)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    s->base.ops = &checkpoint_session_ops;
    s->c = c;
    *out = &s->base;
    return 0;
}
