-- The conversation list (the web console's Conversations page; SQLite 019): one row per
-- conversation thread, touched at each turn, listed last touched first by seq (from a
-- sequence: each touch gets a larger number, the list's order and its cursor).
CREATE SEQUENCE conversations_seq_gen;
CREATE TABLE conversations (
    thread_id     text COLLATE "C" PRIMARY KEY,
    lead_id       text COLLATE "C",
    company_name  text,
    contact_name  text,
    contact_email citext,
    stage         text COLLATE "C",
    last_intent   text COLLATE "C",
    turns         integer NOT NULL DEFAULT 0,
    seq           bigint NOT NULL,
    created_at    text COLLATE "C" NOT NULL,
    updated_at    text COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX conversations_seq ON conversations (seq);
CREATE INDEX conversations_lead ON conversations (lead_id);
-- retention deletes the rows of quiet conversations by their last turn (store/*/retention.c)
CREATE INDEX conversations_updated ON conversations (updated_at);
-- The conversations held before this migration, listed as their turns would have touched
-- them (SQLite 019): app/invoke.c records a turn whose contact is a stored lead as an
-- execution of that lead (agent_type 'conversation', the thread's id), so each such thread
-- gets one row: the last turn's lead, stage and intent, the latest names an input gave,
-- turns counted, created at the first turn and updated at the last, seq in the order of the
-- last turns (the table is empty: 1, 2, ...; the sequence then continues after them). A
-- value of another JSON type than a string stays NULL (the next turn fills it).
WITH f AS (
    SELECT id, thread_id, lead_id, created_at,
           CASE WHEN jsonb_typeof(output -> 'stage') = 'string' THEN output ->> 'stage' END
               AS stage,
           CASE WHEN jsonb_typeof(output -> 'intent') = 'string' THEN output ->> 'intent' END
               AS intent,
           CASE WHEN jsonb_typeof(input -> 'company_name') = 'string'
               THEN input ->> 'company_name' END AS company,
           -- the input's "contact", else its "contact_info" (as app/invoke.c reads it)
           COALESCE(input -> 'contact', input -> 'contact_info') AS contact
    FROM agent_executions
    WHERE agent_type = 'conversation' AND thread_id IS NOT NULL
), g AS (
    SELECT f.*,
           CASE WHEN jsonb_typeof(contact -> 'name') = 'string' THEN contact ->> 'name' END
               AS name,
           CASE WHEN jsonb_typeof(contact -> 'email') = 'string' THEN contact ->> 'email' END
               AS email
    FROM f
), n AS (
    SELECT thread_id, lead_id, stage, intent,
           count(*) OVER w AS turns, min(created_at) OVER w AS first_at,
           max(created_at) OVER w AS last_at,
           row_number() OVER (PARTITION BY thread_id ORDER BY created_at DESC, id DESC) AS r
    FROM g
    WINDOW w AS (PARTITION BY thread_id)
)
INSERT INTO conversations (thread_id, lead_id, company_name, contact_name, contact_email,
                           stage, last_intent, turns, seq, created_at, updated_at)
SELECT n.thread_id, n.lead_id,
       (SELECT x.company FROM g x WHERE x.thread_id = n.thread_id AND x.company IS NOT NULL
        ORDER BY x.created_at DESC, x.id DESC LIMIT 1),
       (SELECT x.name FROM g x WHERE x.thread_id = n.thread_id AND x.name IS NOT NULL
        ORDER BY x.created_at DESC, x.id DESC LIMIT 1),
       (SELECT x.email FROM g x WHERE x.thread_id = n.thread_id AND x.email IS NOT NULL
        ORDER BY x.created_at DESC, x.id DESC LIMIT 1),
       n.stage, n.intent, n.turns,
       row_number() OVER (ORDER BY n.last_at, n.thread_id), n.first_at, n.last_at
FROM n
WHERE n.r = 1;
SELECT setval('conversations_seq_gen', max(seq)) FROM conversations HAVING count(*) > 0;
