/* The SQLite checkpoint saver (graph/saver.h implemented in the store's SQLite file). */
#ifndef SA_STORE_SQLITE_SAVER_H
#define SA_STORE_SQLITE_SAVER_H

#include "graph/saver.h"

/* The SQLite saver on path (a file, created with its table; WAL). */
int graph_saver_sqlite_open(const char *path, struct graph_saver **out, struct sa_err *err) SA_WUR;

#endif
