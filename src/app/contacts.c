/* The contacts service (see contacts.h). */
#include "app/contacts.h"

#include <string.h>

#include "app/export.h"
#include "base/buf.h"
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

int sa_app_contacts_suppression_csv(struct sa_store *store, char **out, size_t *len,
                                    struct sa_err *err)
{
    *out = NULL;
    *len = 0;
    struct sa_buf b;
    sa_buf_init(&b, (size_t)256 << 20);
    int rc = sa_buf_puts(&b, "Email,Source,Reason,Since\r\n");
    static const char *const fields[] = {"email", "source", "reason", "updated_at"};
    enum { PAGE = 500 };
    for (int offset = 0; !rc; offset += PAGE) {
        json_t *items = NULL;
        long total = 0;
        if ((rc = sa_store_contact_list_dnc(store, PAGE, offset, &items, &total, err)))
            break;
        size_t i;
        json_t *c;
        json_array_foreach(items, i, c)
        {
            for (size_t f = 0; f < 4 && !rc; f++) {
                const char *v = json_string_value(json_object_get(c, fields[f]));
                if (f)
                    rc = sa_buf_puts(&b, ",");
                if (!rc && v)
                    rc = sa_export_cell(&b, v, strlen(v));
            }
            if (!rc)
                rc = sa_buf_puts(&b, "\r\n");
            if (rc)
                break;
        }
        size_t n = json_array_size(items);
        json_decref(items);
        if (n < PAGE)
            break;
    }
    if (rc == SA_ETOOBIG)
        rc = sa_err_set(err, rc, "the suppression list is larger than 256 MB");
    else if (rc && rc != SA_ESTORE && !err->msg[0])
        rc = sa_err_set(err, rc, "out of memory");
    if (rc) {
        sa_buf_free(&b);
        return rc;
    }
    *out = sa_buf_steal(&b, len);
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}
