/* An IMAP client session (libcurl's IMAP) for the poller that reads replies from a
 * mailbox (app/imap_poller.h): search by UID, fetch a raw message, set flags. One session
 * is one libcurl handle: one connection, logged in once, the mailbox selected once, used
 * by one thread. */
#ifndef SA_MAIL_IMAP_H
#define SA_MAIL_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct sa_buf;
struct sa_imap;

struct sa_imap_options {
    /* imap://HOST[:PORT]/MAILBOX (STARTTLS required, except to a loopback address) or
     * imaps://HOST[:PORT]/MAILBOX; a user and password in the URL are libcurl's
     * (percent-encoded). Borrowed for the session's life. */
    const char *url;
    const char *user;     /* overrides the URL's; NULL: the URL's */
    const char *password; /* likewise; never logged nor put in err */
    long connect_timeout_ms;
    long timeout_ms; /* one command's whole exchange, connecting included */
};

/* Creates a session (no connection yet: the first command connects, logs in and selects
 * the mailbox). Returns 0 and *out (sa_imap_close frees it), SA_ENOMEM. */
int sa_imap_open(const struct sa_imap_options *o, struct sa_imap **out, struct sa_err *err) SA_WUR;
/* Logs out and frees; NULL is a no-op. */
void sa_imap_close(struct sa_imap *im);

/* UID SEARCH criteria (IMAP syntax, e.g. "UID 42:*" or "UNSEEN"): *uids (malloc'd, the
 * caller frees, ascending, NULL when none) and *n. The mailbox's UIDVALIDITY and UIDNEXT,
 * as the server announced them when the session selected it, are then known
 * (sa_imap_uidvalidity, sa_imap_uidnext). Failures: SA_EIO (no connection, a lost
 * connection), SA_EINVAL (the server answered NO or BAD), SA_ETIMEDOUT, SA_ECONFIG (login
 * refused, the mailbox does not exist, TLS failed: an operator has to act). err never
 * carries the password. */
int sa_imap_search(struct sa_imap *im, const char *criteria, uint32_t **uids, size_t *n,
                   struct sa_err *err) SA_WUR;
/* The UIDVALIDITY and UIDNEXT the server announced on selecting the mailbox; 0 before the
 * first command or when it announced none. */
uint32_t sa_imap_uidvalidity(const struct sa_imap *im);
uint32_t sa_imap_uidnext(const struct sa_imap *im);

/* Fetches message uid whole (BODY[]: the server sets \Seen as it sends it) into out,
 * which is reset first and whose cap bounds it. uidvalidity (not 0) is checked against the
 * mailbox's. SA_ETOOBIG past out's cap; SA_ENOTFOUND when the message is gone or the
 * mailbox's UIDVALIDITY changed; otherwise sa_imap_search's failures. */
int sa_imap_fetch(struct sa_imap *im, uint32_t uidvalidity, uint32_t uid, struct sa_buf *out,
                  struct sa_err *err) SA_WUR;

/* UID STORE uid op, op being "+FLAGS (\\Seen)", "-FLAGS (...)" and the like (keywords
 * are atoms: letters, digits, '$'). Returns 0, SA_EINVAL when the server answers NO or
 * BAD (a mailbox that allows no keywords, say), or sa_imap_search's failures. */
int sa_imap_store(struct sa_imap *im, uint32_t uid, const char *op, struct sa_err *err) SA_WUR;

/* ---- the parsers (pure; exposed for the tests and the fuzz driver) ---- */

/* The UIDs of every "* SEARCH n n ..." line of a server's answer text[0..len) (other lines
 * ignored; a SEARCH line's numbers end at the first thing that is no number, such as
 * "(MODSEQ 9)"): *uids (malloc'd, the caller frees; NULL when none), ascending, and *n.
 * SA_EIO for a 0 or a number above 2^32 - 1, SA_ENOMEM; *uids NULL and *n 0 then. */
int sa_imap_parse_search(const char *text, size_t len, uint32_t **uids, size_t *n,
                         struct sa_err *err) SA_WUR;
/* The number of a response code "[KEY n]" (KEY: UIDVALIDITY, UIDNEXT...) in a response
 * line line[0..len), matched case-insensitively; 0 when there is none or it is no 32-bit
 * number. */
uint32_t sa_imap_resp_code(const char *line, size_t len, const char *key);
/* Whether url's host is a loopback address (127.0.0.1, localhost, [::1]), where imap://
 * may stay in clear: the host libcurl connects to, its authority ending at '/', '?' or '#'
 * ("imap://evil?@localhost/INBOX" is not; a '?' or '#' before the first '/' never is). */
bool sa_imap_loopback(const char *url);
/* The poller's name for the mailbox of url as user logs in (its cursor's and lease's key):
 * "imaps://user:pw@host/INBOX" -> "imaps://host/INBOX user", the URL without its userinfo,
 * a space, and user, or when user is NULL the URL's user as written (percent-encoded; up
 * to ':' or ';'): two users' mailboxes of one URL never share a key; the password is
 * never in it. malloc'd (the caller frees); NULL when out of memory. */
char *sa_imap_mailbox_key(const char *url, const char *user);

#endif
