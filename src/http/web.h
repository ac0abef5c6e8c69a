/* The web console's files (web/), compiled into the binary by cmake/embed_web.cmake and
 * served by http/routes/console.c. */
#ifndef SA_HTTP_WEB_H
#define SA_HTTP_WEB_H

/* One file: its path under web/ ("pages/inbox.js"), its bytes (NUL-terminated beyond
 * len), len and its ETag (quoted, from its SHA-256). Static data: nobody frees it. */
struct sa_web_file {
    const char *path;
    const unsigned char *data;
    unsigned long len;
    const char *etag;
};

/* The table, ended by an entry whose path is NULL; count excludes that entry. */
extern const struct sa_web_file sa_web_files[];
extern const unsigned sa_web_files_count;

/* The file at path (relative to web/, compared exactly: no normalisation, so "..", "./"
 * or an absolute path name nothing), or NULL. */
const struct sa_web_file *sa_web_find(const char *path);

#endif
