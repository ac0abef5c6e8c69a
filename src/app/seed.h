/* Seeding: leads loaded at start-up (`serve --seed FILE`, SEED_FILE). */
#ifndef SA_APP_SEED_H
#define SA_APP_SEED_H

#include "base/err.h"

struct sa_app;

/* Loads leads from a JSON file ({"leads": [{"id": UUID, ...AgentInput}]}) and qualifies
 * each one not stored yet (by id); a stored one is skipped without running its agent. A
 * malformed file or lead is an error naming it. *added and *present count the outcome. */
int sa_app_seed(struct sa_app *app, const char *path, int *added, int *present,
                struct sa_err *err) SA_WUR;

#endif
