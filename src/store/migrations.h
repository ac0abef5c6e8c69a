/* Schema migrations compiled into the binary from src/store/migrations/NNN_name.sql
 * (by cmake/embed_sql.cmake), applied in version order by the store backends. */
#ifndef SA_STORE_MIGRATIONS_H
#define SA_STORE_MIGRATIONS_H

struct sa_migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct sa_migration sa_migrations[];
extern const unsigned sa_migrations_count;

#endif
