/* Consent for outgoing mail (see consent.h). */
#include "app/consent.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/unsubscribe.h"
#include "base/config.h"
#include "store/store.h"

#define SECRET_NAME "unsubscribe_secret"
#define SECRET_MIN 32

struct sa_consent {
    char *secret;
    size_t secret_len;
    char base_url[512];
    size_t port_at;         /* PORT 0, no PUBLIC_URL: where base_url's "0" is (else 0) */
    _Atomic int bound_port; /* then the port the server bound (sa_consent_bind), or 0 */
    char mailto[400];
    char *address; /* NULL: none */
};

void sa_consent_free(struct sa_consent *c)
{
    if (!c)
        return;
    if (c->secret)
        memset(c->secret, 0, c->secret_len);
    free(c->secret);
    free(c->address);
    free(c);
}

int sa_consent_open(const struct sa_config *cfg, struct sa_store *store, const char *sender_email,
                    const char *postal_address, struct sa_consent **out, struct sa_err *err)
{
    *out = NULL;
    struct sa_consent *c = calloc(1, sizeof *c);
    if (!c)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    int rc = 0;
    if (cfg->unsubscribe_secret && *cfg->unsubscribe_secret) {
        if (strlen(cfg->unsubscribe_secret) < SECRET_MIN)
            rc = sa_err_set(err, SA_ECONFIG, "UNSUBSCRIBE_SECRET: expected at least %d bytes",
                            SECRET_MIN);
        else if (!(c->secret = strdup(cfg->unsubscribe_secret)))
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    } else {
        char fresh[65];
        if (sa_unsub_secret_generate(fresh))
            rc = sa_err_set(err, SA_EIO, "cannot generate the unsubscribe secret");
        else
            rc = sa_store_secret_get_or_put(store, SECRET_NAME, fresh, &c->secret, err);
        memset(fresh, 0, sizeof fresh);
    }
    if (!rc && !c->secret)
        rc = sa_err_set(err, SA_EINTERNAL, "no unsubscribe secret");
    if (!rc && c->secret) {
        c->secret_len = strlen(c->secret);
        const char *host = cfg->host && *cfg->host ? cfg->host : "127.0.0.1";
        int n = cfg->public_url && *cfg->public_url
                    ? snprintf(c->base_url, sizeof c->base_url, "%s", cfg->public_url)
                    : snprintf(c->base_url, sizeof c->base_url,
                               strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d", host,
                               cfg->port);
        if (n < 0 || (size_t)n >= sizeof c->base_url)
            rc = sa_err_set(err, SA_ECONFIG, "PUBLIC_URL: too long");
        size_t len = strlen(c->base_url);
        while (len > 0 && c->base_url[len - 1] == '/')
            c->base_url[--len] = '\0';
        if (!(cfg->public_url && *cfg->public_url) && cfg->port == 0 && len > 0)
            c->port_at = len - 1; /* "http://host:0": the bound port goes there */
        snprintf(c->mailto, sizeof c->mailto, "mailto:%s?subject=unsubscribe",
                 sender_email ? sender_email : "");
        if (postal_address && *postal_address && !(c->address = strdup(postal_address)))
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    if (rc) {
        sa_consent_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int sa_consent_links(const struct sa_consent *c, const char *email, char url[SA_CONSENT_URL_MAX],
                     const char **mailto, const char **address)
{
    url[0] = '\0';
    *mailto = c->mailto;
    *address = c->address;
    char tok[SA_UNSUB_TOKEN_MAX];
    int rc = sa_unsub_token(c->secret, c->secret_len, email, tok);
    if (rc)
        return rc;
    int port = atomic_load(&c->bound_port);
    int n = port && c->port_at
                ? snprintf(url, SA_CONSENT_URL_MAX, "%.*s%d/unsubscribe/%s", (int)c->port_at,
                           c->base_url, port, tok)
                : snprintf(url, SA_CONSENT_URL_MAX, "%s/unsubscribe/%s", c->base_url, tok);
    return n < 0 || n >= SA_CONSENT_URL_MAX ? SA_EINVAL : 0;
}

void sa_consent_bind(struct sa_consent *c, int port)
{
    if (c && c->port_at && port > 0)
        atomic_store(&c->bound_port, port);
}

int sa_consent_cancel_queued(struct sa_store *store, const char *email, const char *reason,
                             int *n, struct sa_err *err)
{
    *n = 0;
    static const char *const kinds[] = {"email", "followup"};
    for (size_t i = 0; i < 2; i++) {
        int k = 0;
        int rc = sa_store_outbox_cancel(store, NULL, email, kinds[i], reason, &k, err);
        if (rc)
            return rc;
        *n += k;
    }
    return 0;
}

int sa_consent_unsubscribe(const struct sa_consent *c, struct sa_store *store, const char *token,
                           bool apply, json_t **out, struct sa_err *err)
{
    *out = NULL;
    char email[SA_UNSUB_EMAIL_MAX + 1];
    if (sa_unsub_verify(c->secret, c->secret_len, token, email))
        return sa_err_set(err, SA_ENOTFOUND, "no such unsubscribe link");
    int cancelled = 0;
    if (apply) {
        int rc = sa_store_contact_dnc(store, email, "one-click unsubscribe", "prospect", err);
        if (!rc)
            rc = sa_consent_cancel_queued(store, email, "the contact unsubscribed", &cancelled,
                                          err);
        if (rc)
            return rc;
    }
    json_t *contact = NULL;
    int rc = sa_store_contact_get(store, email, &contact, err);
    if (rc && rc != SA_ENOTFOUND)
        return rc;
    bool dnc = json_is_true(json_object_get(contact, "do_not_contact"));
    json_decref(contact);
    *out = json_pack("{s:s, s:b, s:i}", "email", email, "do_not_contact", dnc, "cancelled",
                     cancelled);
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}
