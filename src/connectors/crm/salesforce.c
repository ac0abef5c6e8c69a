/* The Salesforce backend of the CRM slot (crm.h): not built yet; CRM_PROVIDER=salesforce
 * is refused at start-up with a configuration error. */
#include "base/config.h"
#include "connectors/crm/crm.h"

int sa_crm_salesforce_new(const struct sa_config *cfg, struct sa_crm **out, struct sa_err *err)
{
    (void)cfg;
    *out = NULL;
    return sa_err_set(err, SA_ECONFIG, "CRM_PROVIDER=salesforce is not built yet");
}
