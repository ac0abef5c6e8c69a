/* The sending policy, as pure functions: when may a queued message leave? The outbox
 * worker (app/outbox.c) gathers the facts (consent, the recipient's zone, recent sends
 * per contact, company domain and sender, the previous message of the sequence) and asks
 * sa_send_decide for a verdict: send now, defer to a later instant (with the reason), or
 * cancel. Time zones come in as a function giving the UTC offset at an instant, so this
 * module reads no tzdata itself and unit tests can pass any zone. */
#ifndef SA_DOMAIN_SEND_POLICY_H
#define SA_DOMAIN_SEND_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "base/err.h"

#define SA_SEND_WEEK (7L * 86400)
#define SA_SEND_DAY 86400L

/* The days and local hours mail may leave: SEND_WINDOW "Mon-Fri 08:00-18:00" (days as
 * ranges or lists, e.g. "Sun-Thu" or "Mon,Wed,Fri"; hours HH:MM-HH:MM with start < end),
 * or "any" (no window). */
struct sa_send_window {
    bool any;
    unsigned days; /* bit d set: weekday d allowed (0 Sunday .. 6 Saturday) */
    int start_min; /* minutes after local midnight, inclusive */
    int end_min;   /* exclusive */
};

/* Parses spec into *w. Returns 0, or SA_EINVAL with err saying what is wrong. */
int sa_send_window_parse(const char *spec, struct sa_send_window *w, struct sa_err *err) SA_WUR;

/* A time zone: *offset gets the zone's UTC offset in seconds east of UTC at instant t.
 * Returns 0, or a negative SA_* code (an unknown zone). */
typedef int (*sa_utc_offset_fn)(void *arg, time_t t, int *offset);

/* The earliest instant at or after t that lies inside w in the zone (off, arg). A window
 * start that a DST change skips (02:00 on a spring-forward day) moves to the first
 * instant after the gap. Returns 0 and *out, or the zone's error. */
int sa_send_window_next(const struct sa_send_window *w, sa_utc_offset_fn off, void *arg, time_t t,
                        time_t *out) SA_WUR;

/* A rolling cap: at most limit sends in any period seconds. times: the send times (unix
 * seconds, ascending) of the recent sends it counts; limit <= 0: no cap. Returns the
 * earliest instant at or after t at which one more send keeps the count of sends in
 * [instant - period, instant] below limit. */
time_t sa_send_cap_next(const long long *times, size_t n, int limit, long period, time_t t);

/* What the policy says about one message. */
enum sa_send_verdict { SA_SEND_NOW, SA_SEND_DEFER, SA_SEND_CANCEL };

/* The reasons a message waits or is cancelled (stored on the item). */
#define SA_SEND_REASONS(X)                                                                         \
    X(NONE, "")                                                                                    \
    X(DO_NOT_CONTACT, "do_not_contact")                                                            \
    X(DUPLICATE, "duplicate_sequence")                                                             \
    X(SPACING, "sequence_spacing")                                                                 \
    X(WINDOW, "sending_window")                                                                    \
    X(CONTACT_CAP, "contact_weekly_cap")                                                           \
    X(DOMAIN_CAP, "domain_weekly_cap")                                                             \
    X(SENDER_CAP, "sender_daily_limit")
#define SA_SEND_REASON_ENUM(name, text) SA_SEND_R_##name,
enum sa_send_reason { SA_SEND_REASONS(SA_SEND_REASON_ENUM) SA_SEND_REASON_COUNT };
#undef SA_SEND_REASON_ENUM

/* The reason's name, e.g. "sending_window". */
const char *sa_send_reason_name(enum sa_send_reason r);

/* A list of send times (borrowed, ascending) and its cap. */
struct sa_send_cap {
    const long long *times;
    size_t n;
    int limit; /* <= 0: no cap */
};

/* Everything sa_send_decide weighs (all borrowed for the call). */
struct sa_send_facts {
    time_t now;
    bool do_not_contact; /* the contact opted out: cancel */
    bool duplicate;      /* another sequence to the contact is active: cancel */
    /* The earliest instant the sequence allows: the previous message's send (or due)
     * time plus the original gap between the two; 0: none. A follow-up delayed by
     * downtime thus keeps its distance from the message before it. */
    time_t not_before;
    const struct sa_send_window *window; /* NULL: any time */
    sa_utc_offset_fn offset;             /* the recipient's zone; NULL: UTC */
    void *offset_arg;
    struct sa_send_cap contact; /* per SA_SEND_WEEK */
    struct sa_send_cap domain;  /* per SA_SEND_WEEK */
    struct sa_send_cap sender;  /* per SA_SEND_DAY */
};

struct sa_send_decision {
    enum sa_send_verdict verdict;
    time_t at;                  /* SA_SEND_DEFER: when to try again */
    enum sa_send_reason reason; /* why it waits or is cancelled (the binding constraint) */
};

/* The verdict for one message. Cancels for do-not-contact or a duplicate sequence;
 * otherwise finds the earliest instant at or after now that satisfies the sequence's
 * spacing, every cap and the window together (each moves the instant forward until none
 * does), and answers send now when that is now, else defer to it. Returns 0, or the zone's
 * error. */
int sa_send_decide(const struct sa_send_facts *f, struct sa_send_decision *d) SA_WUR;

#endif
