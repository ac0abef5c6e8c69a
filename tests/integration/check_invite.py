#!/usr/bin/env python3
"""Reads one delivered message (a Maildir file) with Python's email package and its
invite with the icalendar package, independently of our C code, and prints what it found
as JSON for test_api_meetings: the MIME structure, the inline and attached invites, and
the event's properties. Exits 1 with a message when the message or invite is malformed."""
import email
import email.policy
import json
import sys

import icalendar


def main(path):
    with open(path, 'rb') as f:
        msg = email.message_from_bytes(f.read(), policy=email.policy.default)
    out = {'content_type': msg.get_content_type(), 'defects': [str(d) for d in msg.defects]}
    inline, attached = None, None
    for part in msg.walk():
        out['defects'] += [str(d) for d in part.defects]
        ctype = part.get_content_type()
        if ctype == 'multipart/alternative':
            out['alternative'] = [p.get_content_type() for p in part.iter_parts()]
        elif ctype == 'text/calendar':
            inline = part.get_payload(decode=True)
            out['inline_method'] = part.get_param('method')
            out['inline_charset'] = part.get_param('charset')
            out['inline_disposition'] = part.get_content_disposition()
        elif ctype == 'application/ics':
            attached = part.get_payload(decode=True)
            out['attachment_filename'] = part.get_filename()
        elif ctype == 'text/plain':
            out['text'] = part.get_content()
    if inline is None:
        sys.exit('no inline text/calendar part')
    out['attachment_same'] = attached == inline
    cal = icalendar.Calendar.from_ical(inline)
    out['method'] = str(cal.get('method'))
    events = [c for c in cal.walk() if c.name == 'VEVENT']
    if len(events) != 1:
        sys.exit('expected one VEVENT, found %d' % len(events))
    ev = events[0]
    start, end = ev.decoded('dtstart'), ev.decoded('dtend')
    if start.utcoffset() is None or start.utcoffset().total_seconds() != 0:
        sys.exit('DTSTART is not in UTC')
    attendee = ev.get('attendee')
    out.update({
        'uid': str(ev.get('uid')),
        'status': str(ev.get('status')),
        'sequence': int(ev.get('sequence')),
        'location': str(ev.get('location')),
        'url': str(ev.get('url')),
        'dtstart': start.strftime('%Y-%m-%dT%H:%M:%SZ'),
        'dtend': end.strftime('%Y-%m-%dT%H:%M:%SZ'),
        'organizer': str(ev.get('organizer')),
        'attendee': str(attendee),
        'rsvp': str(attendee.params.get('RSVP')),
        'partstat': str(attendee.params.get('PARTSTAT')),
    })
    print(json.dumps(out))


if __name__ == '__main__':
    main(sys.argv[1])
