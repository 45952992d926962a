"""A mail server for tests: STARTTLS required before anything else, AUTH (PLAIN or
LOGIN) required with one user, and each message accepted written to a directory as
NNNN.eml with its envelope in NNNN.json. Prints "ready" once it listens.

usage: receiver.py PORT CERT KEY USER PASSWORD DIR
"""

import itertools
import json
import pathlib
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Keep:
    def __init__(self, directory):
        self.directory = pathlib.Path(directory)
        self.numbers = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        n = next(self.numbers)
        envelope_path = self.directory / f"{n:04d}.json"
        envelope_path.write_text(json.dumps({
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "login": session.auth_data.decode() if isinstance(session.auth_data, bytes)
            else session.auth_data,
        }))
        # Written last and renamed: a reader that sees the .eml sees it whole.
        partial = self.directory / f"{n:04d}.part"
        partial.write_bytes(envelope.original_content or envelope.content)
        partial.rename(self.directory / f"{n:04d}.eml")
        return "250 Message accepted"


def main():
    port, cert, key, user, password, directory = sys.argv[1:7]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticate(server, session, envelope, mechanism, data):
        ok = (isinstance(data, LoginPassword)
              and data.login == user.encode() and data.password == password.encode())
        return AuthResult(success=ok, auth_data=data.login if ok else None)

    controller = Controller(
        Keep(directory), hostname="127.0.0.1", port=int(port), tls_context=context,
        require_starttls=True, auth_required=True, auth_require_tls=True,
        authenticator=authenticate,
        ready_timeout=10,
    )
    controller.start()
    print("ready", flush=True)
    # The controller serves from its own thread; this one waits for the test to end it.
    threading.Event().wait()


if __name__ == "__main__":
    main()
