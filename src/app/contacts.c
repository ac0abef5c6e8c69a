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
    int rc = sa_store_contact_dnc(store, email, reason, "api", err);
    return rc ? rc : sa_app_contact_get(store, email, out, err);
}
