"""Creates the provider's test data (users, the sigil client) after migrate:
`python3 -m provider.seed CLIENT_ID SECRET REDIRECT_URI…` from this folder."""
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "provider.settings")
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from oidc_provider.models import Client, ResponseType  # noqa: E402

USERS = [
    # username, email, first, last
    ("ada", "ada@example.org", "Ada", "Lovelace"),
    ("grace", "grace@example.org", "Grace", "Hopper"),
    ("mallory", "mallory@example.org", "Mallory", "unverified"),
    ("eve", "eve@elsewhere.test", "Eve", "Outsider"),
    ("nobody", "nobody@example.org", "No", "Body"),
    ("suspended", "suspended@example.org", "Sus", "Pended"),
    ("removed", "removed@example.org", "Re", "Moved"),
]


def main(client_id, secret, *redirect_uris):
    for username, email, first, last in USERS:
        User.objects.create_user(username, email=email, password="test-only-password", first_name=first, last_name=last)
    code, _ = ResponseType.objects.get_or_create(value="code", defaults={"description": "code (Authorization Code Flow)"})
    client = Client(
        name="Sigil", client_id=client_id, client_secret=secret, client_type="confidential", jwt_alg="RS256",
        require_consent=False, reuse_consent=True)
    client.redirect_uris = list(redirect_uris)
    client.save()
    client.response_types.add(code)


if __name__ == "__main__":
    main(*sys.argv[1:])
