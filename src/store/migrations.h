/* Schema migrations, one set per SQL dialect, compiled into the binary from
 * src/store/<dialect>/migrations/NNN_name.sql by cmake/embed_sql.cmake and applied in
 * version order by that backend. Every backend records what it applied in the same
 * table, schema_migrations (version, name, applied_at), so `sales-agent migrate` and
 * /health read a version the same way whatever the backend. */
#ifndef SA_STORE_MIGRATIONS_H
#define SA_STORE_MIGRATIONS_H

struct sa_migration {
    int version;
    const char *name;
    const char *sql;
};

/* src/store/sqlite/migrations/ */
extern const struct sa_migration sa_sqlite_migrations[];
extern const unsigned sa_sqlite_migrations_count;
/* src/store/postgres/migrations/ */
extern const struct sa_migration sa_pg_migrations[];
extern const unsigned sa_pg_migrations_count;

#endif
