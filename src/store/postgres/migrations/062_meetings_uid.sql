-- An RSVP by mail names its meeting by the invite's UID (app/inbound_rsvp.c): found by
-- index, not by scanning the meetings around now (SQLite 022).
CREATE INDEX meetings_uid ON meetings (ics_uid);
