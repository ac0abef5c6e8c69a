#!/usr/bin/env python3
"""A real SMTP server for the SMTP transport's tests and benchmark: aiosmtpd (Debian's
python3-aiosmtpd) on 127.0.0.1, a free port.

    smtp_server.py --dir DIR [--cert CERT --key KEY [--implicit-tls]]
                   [--user USER --password PASS]

Writes DIR/port once it listens. Each accepted message goes to DIR/mail/N.eml (the bytes
as received, dot-unstuffed) with DIR/mail/N.json ({"mail_from", "rcpt_tos", "queue_id",
"auth", "tls"}); each connection adds a line to DIR/connections. With --cert and --key it
offers STARTTLS and requires it before MAIL and AUTH (--implicit-tls: TLS from the first
byte, as on port 465); without them it offers no STARTTLS. With --user it requires AUTH
(PLAIN or LOGIN) with that user and password.

Scripted answers: DIR/script.json, re-read at every command, maps a recipient to a list of
replies ({"rcpt": {"bob@x.com": ["451 4.7.1 Greylisted"]}, "data": {...}}); each attempt
takes the next reply of the list, and an empty or missing list means accept. "data" is
answered to the end of DATA instead of the 250 (a scripted 250 is answered after the
message is stored, as another server's wording). --idle-timeout SECONDS: a connection idle
that long is closed (a line in DIR/closed for each closed connection)."""
import argparse
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Server(SMTP):
    def connection_made(self, transport):
        # called again with the TLS transport after STARTTLS: one line per TCP connection
        if not getattr(self, "_counted", False):
            self._counted = True
            with open(os.path.join(self.__dir, "connections"), "a") as f:
                f.write("%s:%d\n" % transport.get_extra_info("peername")[:2])
        super().connection_made(transport)

    def connection_lost(self, exc):
        with open(os.path.join(self.__dir, "closed"), "a") as f:
            f.write("closed\n")
        super().connection_lost(exc)

    def set_dir(self, d):
        self.__dir = d


class Handler:
    def __init__(self, d):
        self.dir = d
        self.n = 0
        os.makedirs(os.path.join(d, "mail"), exist_ok=True)

    def scripted(self, kind, rcpts):
        path = os.path.join(self.dir, "script.json")
        try:
            with open(path) as f:
                script = json.load(f)
        except FileNotFoundError:
            return None
        for r in rcpts:
            replies = script.get(kind, {}).get(r)
            if replies:
                reply = replies.pop(0)
                with open(path + ".tmp", "w") as f:
                    json.dump(script, f)
                os.rename(path + ".tmp", path)
                return reply
        return None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.scripted("rcpt", [address])
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        reply = self.scripted("data", envelope.rcpt_tos)
        if reply and not reply.startswith("250"):
            return reply
        self.n += 1
        qid = "Q%05dX" % self.n
        base = os.path.join(self.dir, "mail", "%d" % self.n)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "queue_id": qid,
            "auth": session.authenticated,
            "tls": session.ssl is not None
            or server.transport.get_extra_info("sslcontext") is not None,
        }
        # the metadata first: a reader waits for the .eml
        with open(base + ".json", "w") as f:
            json.dump(meta, f)
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return reply or "250 2.0.0 Ok: queued as " + qid


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--implicit-tls", action="store_true")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--idle-timeout", type=float, default=300)
    a = ap.parse_args()

    tls = None
    if a.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(a.cert, a.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == (a.user or "").encode()
            and auth_data.password == (a.password or "").encode()
        )
        with open(os.path.join(a.dir, "auth.log"), "a") as f:
            f.write("%s %s\n" % (mechanism, "ok" if ok else "refused"))
        # handled=False: aiosmtpd answers 535 itself (True would leave the client waiting)
        return AuthResult(success=ok, handled=False)

    handler = Handler(a.dir)
    kw = dict(decode_data=False, enable_SMTPUTF8=True, hostname="mx.test.example",
              timeout=a.idle_timeout)
    if tls and not a.implicit_tls:
        kw.update(tls_context=tls, require_starttls=True)
    if a.user:
        kw.update(authenticator=authenticator, auth_required=True,
                  auth_require_tls=tls is not None)

    def factory():
        s = Server(handler, **kw)
        s.set_dir(a.dir)
        return s

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(
        factory, "127.0.0.1", 0, ssl=tls if a.implicit_tls else None))
    port = server.sockets[0].getsockname()[1]
    with open(os.path.join(a.dir, "port.tmp"), "w") as f:
        f.write("%d\n" % port)
    os.rename(os.path.join(a.dir, "port.tmp"), os.path.join(a.dir, "port"))
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
