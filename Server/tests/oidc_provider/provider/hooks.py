"""The provider's claim functions, as a deployment would configure them.

`userinfo`: the email and whether it is verified (a user whose last name is "unverified" has
an unverified email). `id_token`: django-oidc-provider's OIDC_IDTOKEN_PROCESSING_HOOK, used by
the tests to make the provider itself issue (and sign) a token with claims a misconfigured or
misbehaving provider would send: the mode is read from OIDC_TEST_MODE_FILE at each sign-in.
"""
import os
import time


def userinfo(claims, user):
    claims["name"] = user.get_full_name() or user.username
    claims["email"] = user.email
    claims["email_verified"] = user.last_name != "unverified"
    return claims


def _mode():
    path = os.environ.get("OIDC_TEST_MODE_FILE")
    if not path or not os.path.exists(path):
        return ""
    with open(path) as f:
        return f.read().strip()


def id_token(id_token, **kwargs):
    mode = _mode()
    now = int(time.time())
    if mode == "expired":
        id_token["iat"] = now - 7200
        id_token["exp"] = now - 3600
    elif mode == "future":
        id_token["iat"] = now + 3600
        id_token["exp"] = now + 7200
    elif mode == "audience":
        id_token["aud"] = "another-application"
    elif mode == "issuer":
        id_token["iss"] = "http://127.0.0.1:1/openid"
    return id_token
