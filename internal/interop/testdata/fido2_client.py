"""A WebAuthn client on python-fido2 (Debian python3-fido2 0.9.1) over PC/SC.

Usage: /usr/bin/python3 fido2_client.py make-credential|get-assertion|pin-attempts|hmac-secret|u2f

make-credential and get-assertion read one JSON object from stdin:
  {"origin": "https://example.com", "pin": "...", "reader": "...",
   "publicKey": <go-webauthn PublicKeyCredentialCreationOptions or
                 PublicKeyCredentialRequestOptions, binary fields base64url>}
and print the browser-shaped PublicKeyCredential JSON (binary fields
base64url) that go-webauthn's protocol.Parse*ResponseBytes accepts.

pin-attempts reads {"reader": "...", "rpId": "...", "pins": ["...", ...]}, asks
for a PIN/UV auth token (getAssertion permission) with each PIN in turn on one
connection, and prints {"results": [0 for success or the CTAP error code, ...],
"retries": n, "powerCycleRequired": bool}.

hmac-secret reads {"origin": ..., "reader": ..., "pin": ..., "rpId": ...,
"salt1": b64url, "salt2": b64url}, makes a credential with hmacCreateSecret,
then gets two assertions with the PIN: one with salt1, one with salt1 and
salt2. It prints {"credentialId": ..., "hmacCreateSecret": bool,
"first": {"output1": ...}, "second": {"output1": ..., "output2": ...}}.

u2f reads {"reader": ...} and runs FIDO U2F (CTAP1) raw APDUs: version,
register, authenticate twice, a check-only authenticate and one with a wrong
application parameter. python-fido2 verifies the registration (attestation
certificate signature) and authentication signatures itself. It prints
{"version", "keyHandleLength", "counters", "userPresence", "checkOnlySW",
"wrongAppSW"}.

The device is the first PC/SC reader whose name contains "reader". PINs are
never printed.
"""

import base64
import json
import os
import sys

from fido2 import cbor
from fido2.client import Fido2Client
from fido2.ctap import CtapError
from fido2.ctap1 import ApduError, Ctap1
from fido2.ctap2 import ClientPin, Ctap2
from fido2.pcsc import CtapPcscDevice
from fido2.webauthn import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialCreationOptions,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialParameters,
    PublicKeyCredentialRequestOptions,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
)


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(bytes(b)).rstrip(b"=").decode()


def device(reader):
    for dev in CtapPcscDevice.list_devices(reader):
        return dev
    raise SystemExit("no PC/SC FIDO device on a reader matching %r" % reader)


def descriptors(items):
    if not items:
        return None
    return [
        PublicKeyCredentialDescriptor(type=c["type"], id=b64d(c["id"]))
        for c in items
    ]


def make_credential(client, pk, pin):
    sel = pk.get("authenticatorSelection") or {}
    options = PublicKeyCredentialCreationOptions(
        rp=PublicKeyCredentialRpEntity(id=pk["rp"]["id"], name=pk["rp"]["name"]),
        user=PublicKeyCredentialUserEntity(
            id=b64d(pk["user"]["id"]),
            name=pk["user"]["name"],
            display_name=pk["user"].get("displayName"),
        ),
        challenge=b64d(pk["challenge"]),
        pub_key_cred_params=[
            PublicKeyCredentialParameters(type=p["type"], alg=p["alg"])
            for p in pk["pubKeyCredParams"]
        ],
        timeout=pk.get("timeout"),
        exclude_credentials=descriptors(pk.get("excludeCredentials")),
        authenticator_selection=AuthenticatorSelectionCriteria(
            require_resident_key=sel.get("requireResidentKey", False),
            user_verification=sel.get("userVerification"),
        ),
        attestation=pk.get("attestation"),
    )
    result = client.make_credential(options, pin=pin)
    att = result.attestation_object
    cred_id = att.auth_data.credential_data.credential_id
    # python-fido2 keeps the CTAP2 form (integer keys); a browser hands the
    # relying party the WebAuthn form with string keys (WebAuthn §6.5).
    att_obj = cbor.encode(
        {"fmt": att.fmt, "authData": bytes(att.auth_data), "attStmt": att.att_statement}
    )
    return {
        "id": b64e(cred_id),
        "rawId": b64e(cred_id),
        "type": "public-key",
        "clientExtensionResults": result.extension_results or {},
        "response": {
            "clientDataJSON": b64e(result.client_data),
            "attestationObject": b64e(att_obj),
            "transports": ["nfc"],
        },
    }


def get_assertion(client, pk, pin):
    options = PublicKeyCredentialRequestOptions(
        challenge=b64d(pk["challenge"]),
        timeout=pk.get("timeout"),
        rp_id=pk["rpId"],
        allow_credentials=descriptors(pk.get("allowCredentials")),
        user_verification=pk.get("userVerification"),
    )
    selection = client.get_assertion(options, pin=pin)
    resp = selection.get_response(0)
    cred_id = resp.credential_id
    out = {
        "id": b64e(cred_id),
        "rawId": b64e(cred_id),
        "type": "public-key",
        "clientExtensionResults": resp.extension_results or {},
        "response": {
            "clientDataJSON": b64e(resp.client_data),
            "authenticatorData": b64e(resp.authenticator_data),
            "signature": b64e(resp.signature),
        },
    }
    if resp.user_handle:
        out["response"]["userHandle"] = b64e(resp.user_handle)
    return out


def pin_attempts(req):
    pin = ClientPin(Ctap2(device(req["reader"])))
    results = []
    for p in req["pins"]:
        try:
            pin.get_pin_token(p, ClientPin.PERMISSION.GET_ASSERTION, req["rpId"])
            results.append(0)
        except CtapError as e:
            results.append(int(e.code))
    retries, power_cycle = pin.get_pin_retries()
    return {"results": results, "retries": retries, "powerCycleRequired": bool(power_cycle)}


def hmac_secret(req):
    client = Fido2Client(device(req["reader"]), req["origin"])
    rp_id, pin = req["rpId"], req["pin"]
    created = client.make_credential(
        PublicKeyCredentialCreationOptions(
            rp=PublicKeyCredentialRpEntity(id=rp_id, name="Example"),
            user=PublicKeyCredentialUserEntity(id=b"hmac-secret-user", name="hmac"),
            challenge=os.urandom(32),
            pub_key_cred_params=[PublicKeyCredentialParameters(type="public-key", alg=-7)],
            extensions={"hmacCreateSecret": True},
        ),
        pin=pin,
    )
    cred_id = created.attestation_object.auth_data.credential_data.credential_id

    def evaluate(salts):
        selection = client.get_assertion(
            PublicKeyCredentialRequestOptions(
                challenge=os.urandom(32),
                rp_id=rp_id,
                allow_credentials=[PublicKeyCredentialDescriptor(type="public-key", id=cred_id)],
                user_verification="required",
                extensions={"hmacGetSecret": salts},
            ),
            pin=pin,
        )
        out = selection.get_response(0).extension_results["hmacGetSecret"]
        return {k: b64e(v) for k, v in out.items()}

    salt1, salt2 = b64d(req["salt1"]), b64d(req["salt2"])
    return {
        "credentialId": b64e(cred_id),
        "hmacCreateSecret": bool((created.extension_results or {}).get("hmacCreateSecret")),
        "first": evaluate({"salt1": salt1}),
        "second": evaluate({"salt1": salt1, "salt2": salt2}),
    }


def u2f(req):
    ctap1 = Ctap1(device(req["reader"]))
    app, chal = os.urandom(32), os.urandom(32)
    version = ctap1.get_version()
    reg = ctap1.register(chal, app)
    reg.verify(app, chal)
    counters, presence = [], []
    for _ in range(2):
        sig = ctap1.authenticate(chal, app, reg.key_handle)
        sig.verify(app, chal, reg.public_key)
        counters.append(sig.counter)
        presence.append(sig.user_presence)

    def status(**kwargs):
        try:
            ctap1.authenticate(chal, kwargs.get("app", app), reg.key_handle, check_only=kwargs.get("check_only", False))
        except ApduError as e:
            return e.code
        return 0x9000

    return {
        "version": version,
        "keyHandleLength": len(reg.key_handle),
        "counters": counters,
        "userPresence": presence,
        "checkOnlySW": status(check_only=True),
        "wrongAppSW": status(app=os.urandom(32)),
    }


def main():
    modes = ("make-credential", "get-assertion", "pin-attempts", "hmac-secret", "u2f")
    if len(sys.argv) != 2 or sys.argv[1] not in modes:
        raise SystemExit(__doc__)
    req = json.load(sys.stdin)
    if sys.argv[1] == "pin-attempts":
        json.dump(pin_attempts(req), sys.stdout)
        return
    if sys.argv[1] == "u2f":
        json.dump(u2f(req), sys.stdout)
        return
    if sys.argv[1] == "hmac-secret":
        json.dump(hmac_secret(req), sys.stdout)
        return
    client = Fido2Client(device(req["reader"]), req["origin"])
    pk = req["publicKey"]
    pin = req.get("pin") or None
    if sys.argv[1] == "make-credential":
        out = make_credential(client, pk, pin)
    else:
        out = get_assertion(client, pk, pin)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
