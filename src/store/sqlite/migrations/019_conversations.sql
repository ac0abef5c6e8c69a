-- The conversation list (the web console's Conversations page): one row per conversation
-- thread, touched at each turn (app/invoke.c), listed last touched first by seq (a number
-- each touch makes larger than every earlier one: the list's order and its cursor).
CREATE TABLE conversations (
    thread_id     TEXT PRIMARY KEY,
    lead_id       TEXT,
    company_name  TEXT,
    contact_name  TEXT,
    contact_email TEXT COLLATE NOCASE,
    stage         TEXT,
    last_intent   TEXT,
    turns         INTEGER NOT NULL DEFAULT 0,
    seq           INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX conversations_seq ON conversations (seq);
CREATE INDEX conversations_lead ON conversations (lead_id);
-- retention deletes the rows of quiet conversations by their last turn (store/*/retention.c)
CREATE INDEX conversations_updated ON conversations (updated_at);
-- The conversations held before this migration, listed as their turns would have touched
-- them: app/invoke.c records a turn whose contact is a stored lead as an execution of that
-- lead (agent_type 'conversation', the thread's id), so each such thread gets one row: the
-- last turn's lead, stage and intent, the latest names an input gave, turns counted,
-- created at the first turn and updated at the last, seq in the order of the last turns
-- (the table is empty: 1, 2, ...). An input or output stored zstd-compressed (a BLOB,
-- store/sqlite/db.c db_json_arg) cannot be read here: its values stay NULL (the list then
-- shows the lead's names; the next turn fills the rest).
WITH t AS (
    SELECT id, thread_id, lead_id, created_at,
           CASE WHEN typeof(input) = 'text' AND json_valid(input) THEN input END AS i,
           CASE WHEN typeof(output) = 'text' AND json_valid(output) THEN output END AS o
    FROM agent_executions
    WHERE agent_type = 'conversation' AND thread_id IS NOT NULL
), f AS (
    SELECT id, thread_id, lead_id, created_at,
           CASE WHEN json_type(o, '$.stage') = 'text' THEN json_extract(o, '$.stage') END
               AS stage,
           CASE WHEN json_type(o, '$.intent') = 'text' THEN json_extract(o, '$.intent') END
               AS intent,
           CASE WHEN json_type(i, '$.company_name') = 'text'
               THEN json_extract(i, '$.company_name') END AS company,
           -- the input's "contact", else its "contact_info" (as app/invoke.c reads it)
           CASE WHEN json_type(i, '$.contact') IS NOT NULL
               THEN CASE WHEN json_type(i, '$.contact.name') = 'text'
                   THEN json_extract(i, '$.contact.name') END
               WHEN json_type(i, '$.contact_info.name') = 'text'
               THEN json_extract(i, '$.contact_info.name') END AS name,
           CASE WHEN json_type(i, '$.contact') IS NOT NULL
               THEN CASE WHEN json_type(i, '$.contact.email') = 'text'
                   THEN json_extract(i, '$.contact.email') END
               WHEN json_type(i, '$.contact_info.email') = 'text'
               THEN json_extract(i, '$.contact_info.email') END AS email
    FROM t
), n AS (
    SELECT thread_id, lead_id, stage, intent,
           count(*) OVER w AS turns, min(created_at) OVER w AS first_at,
           max(created_at) OVER w AS last_at,
           row_number() OVER (PARTITION BY thread_id ORDER BY created_at DESC, id DESC) AS r
    FROM f
    WINDOW w AS (PARTITION BY thread_id)
)
INSERT INTO conversations (thread_id, lead_id, company_name, contact_name, contact_email,
                           stage, last_intent, turns, seq, created_at, updated_at)
SELECT n.thread_id, n.lead_id,
       (SELECT g.company FROM f g WHERE g.thread_id = n.thread_id AND g.company IS NOT NULL
        ORDER BY g.created_at DESC, g.id DESC LIMIT 1),
       (SELECT g.name FROM f g WHERE g.thread_id = n.thread_id AND g.name IS NOT NULL
        ORDER BY g.created_at DESC, g.id DESC LIMIT 1),
       (SELECT g.email FROM f g WHERE g.thread_id = n.thread_id AND g.email IS NOT NULL
        ORDER BY g.created_at DESC, g.id DESC LIMIT 1),
       n.stage, n.intent, n.turns,
       row_number() OVER (ORDER BY n.last_at, n.thread_id), n.first_at, n.last_at
FROM n
WHERE n.r = 1;
-- a lead's pending draft (the console's one-draft rule): its runs by lead and status
CREATE INDEX IF NOT EXISTS idx_runs_lead ON runs (lead_id, status);
