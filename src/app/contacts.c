/* The contacts service (see contacts.h). */
#include "app/contacts.h"

#include "store/store.h"

int sa_app_contact_get(struct sa_store *store, const char *email, json_t **out, struct sa_err *err)
{
    *out = NULL;
    int rc = sa_store_contact_get(store, email, out, err);
    if (rc == SA_ENOTFOUND) {
        *out = json_pack("{s:s, s:b}", "email", email, "do_not_contact", 0);
        rc = *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    return rc;
}

int sa_app_contact_dnc(struct sa_store *store, const char *email, const char *reason, json_t **out,
                       struct sa_err *err)
{
    *out = NULL;
    int rc = sa_store_contact_dnc(store, email, reason, "operator", err);
    return rc ? rc : sa_app_contact_get(store, email, out, err);
}

int sa_app_contact_lift(struct sa_store *store, const char *email, const char *consent_source,
                        const char *note, json_t **out, struct sa_err *err)
{
    *out = NULL;
    int rc = sa_store_contact_lift(store, email, consent_source, note, err);
    return rc ? rc : sa_app_contact_get(store, email, out, err);
}

int sa_app_contact_history(struct sa_store *store, const char *email, json_t **out,
                           struct sa_err *err)
{
    json_t *h = NULL;
    int rc = sa_app_contact_get(store, email, out, err);
    if (!rc)
        rc = sa_store_contact_history(store, email, &h, err);
    if (!rc && json_object_set_new(*out, "history", h))
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int sa_app_contacts_dnc_page(struct sa_store *store, int limit, int offset, json_t **out,
                             struct sa_err *err)
{
    *out = NULL;
    json_t *items = NULL;
    long total = 0;
    int rc = sa_store_contact_list_dnc(store, limit, offset, &items, &total, err);
    if (rc)
        return rc;
    *out = json_pack("{s:o, s:I, s:i, s:i}", "items", items, "total", (json_int_t)total, "limit",
                     limit, "offset", offset);
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}
