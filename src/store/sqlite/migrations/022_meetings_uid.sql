-- An RSVP by mail names its meeting by the invite's UID (app/inbound_rsvp.c): found by
-- index, not by scanning the meetings around now (PostgreSQL 062).
CREATE INDEX meetings_uid ON meetings (ics_uid);
