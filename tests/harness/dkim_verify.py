#!/usr/bin/env python3
"""Verifies a message's DKIM signature with a real verifier (Debian's python3-dkim).

    dkim_verify.py MESSAGE KEY.pem SELECTOR DOMAIN [RECORD]

The public key is derived from the private key with the openssl command (not by the code
under test) and served as the TXT record of SELECTOR._domainkey.DOMAIN; any other name
looked up fails the check. With RECORD (the TXT record our code says to publish), it must
equal the derived one. Exit status 0 when the signature verifies, 1 when not."""
import base64
import subprocess
import sys

import dkim


def record_for(key_path):
    der = subprocess.run(["openssl", "pkey", "-in", key_path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    text = subprocess.run(["openssl", "pkey", "-in", key_path, "-noout", "-text"],
                          check=True, capture_output=True).stdout
    if text.startswith(b"ED25519"):
        # RFC 8463: p= is the raw 32-byte key, the end of the SubjectPublicKeyInfo
        return "v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:]).decode()
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def main():
    msg_path, key_path, selector, domain = sys.argv[1:5]
    record = record_for(key_path)
    if len(sys.argv) > 5 and sys.argv[5] != record:
        print("published record differs:\n ours:    %s\n openssl: %s" % (sys.argv[5], record))
        return 1
    want = ("%s._domainkey.%s." % (selector, domain)).encode()

    def dnsfunc(name, timeout=5):
        if name.rstrip(b".") + b"." != want:
            print("unexpected DNS name %r (expected %r)" % (name, want))
            return None
        return record.encode()

    with open(msg_path, "rb") as f:
        msg = f.read()
    ok = dkim.verify(msg, dnsfunc=dnsfunc)
    print("dkim:", "pass" if ok else "fail")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
