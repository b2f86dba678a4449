#!/usr/bin/env python3
"""A throwaway Django project serving django-oidc-provider on 127.0.0.1 for Server/tests/test_oidc.py.

Configured through the environment (test_oidc.py sets it): OIDC_TEST_DB (its SQLite file),
OIDC_TEST_SITE_URL (http://127.0.0.1:PORT), OIDC_TEST_MODE_FILE (see provider/hooks.py).
Never a real provider: its secret key and users are for tests only.
"""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "provider.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
