"""The scanner rules in docs/scanning/ against tokens the sigil CLI issues and near misses.

gitleaks and trufflehog are not packaged for Debian or PyPI here, so their patterns are
tested with Python's re (the patterns use only RE2-compatible syntax), and `sigil scan`
itself is checked to agree with them.
"""

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIGIL = os.environ.get("SIGIL_BIN", str(ROOT / ".build" / "debug" / "sigil"))


def gitleaks_pattern():
    rules = tomllib.loads((ROOT / "docs/scanning/gitleaks.toml").read_text())["rules"]
    (rule,) = [r for r in rules if r["id"] == "sigil_api_token"]
    return re.compile(rule["regex"], re.M), rule["secretGroup"]


def trufflehog_pattern():
    text = (ROOT / "docs/scanning/trufflehog.yaml").read_text()
    (line,) = [l for l in text.splitlines() if l.strip().startswith("token:")]
    return re.compile(line.split(":", 1)[1].strip().strip("'"), re.M), 1


def github_pattern():
    rows = {}
    for line in (ROOT / "docs/scanning/github-secret-scanning.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")] if line.startswith("|") else []
        if len(cells) >= 2:
            rows[cells[0]] = line.strip().strip("|").split("|", 1)[1].strip()
    unescape = lambda s: s.strip("`").replace("\\|", "|")
    before = unescape(rows["Before secret"]).replace("\\A", "^").replace("\\z", "$")
    after = unescape(rows["After secret"]).replace("\\A", "^").replace("\\z", "$")
    secret = unescape(rows["Secret format"])
    return re.compile(f"(?:{before})({secret})(?:{after})", re.M), 1


PATTERNS = {"gitleaks": gitleaks_pattern, "trufflehog": trufflehog_pattern, "github": github_pattern}


def find(kind, text):
    pattern, group = PATTERNS[kind]()
    return [m.group(group) for m in pattern.finditer(text)]


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    """Tokens the CLI issues (each scope kind, 16-character key IDs) plus every well-formed
    token of the published vectors (other key-ID lengths, audiences and windows)."""
    home = tmp_path_factory.mktemp("home")
    env = dict(os.environ, SIGIL_HOME=str(home))

    def sigil(*args):
        return subprocess.run([SIGIL, *args], env=env, capture_output=True, text=True, check=True).stdout.strip()

    out = [
        sigil("issue", "--name", "all", "--audience", "billing", "--all"),
        sigil("issue", "--name", "ro", "--audience", "b", "--read-only", "--never-expires"),
        sigil("issue", "--name", "custom", "--audience", "a" * 64, "--scope", "devices.*,users.get"),
    ]
    vectors = json.loads((ROOT / "Tests/Vectors/tokens-v1.json").read_text())["vectors"]
    out += [v["token"] for v in vectors if v["expected"].get("reason") != "malformed"]
    for t in out:
        assert t.startswith("sgl_")
    assert {t[5] for t in out} >= {"Q", "R"}
    return out


@pytest.mark.parametrize("kind", PATTERNS)
def test_every_issued_token_is_found_whole(kind, tokens):
    for token in tokens:
        for text in [token, f"TOKEN={token}\n", f'{{"key": "{token}"}}', f"Authorization: Bearer {token}"]:
            assert find(kind, text) == [token]


@pytest.mark.parametrize("kind", PATTERNS)
def test_near_misses_are_not_found(kind, tokens):
    t = tokens[0]
    misses = [
        "sgl_" + "A" * 50,  # too short
        "sgl_BR" + t[6:],  # version 2 would start with B
        "sgl_AT" + t[6:],  # a key-ID length over 32
        "SGL_" + t[4:],  # wrong case prefix
        "xsgl_" + t[4:],  # inside a longer word
        t + "x" * 4100,  # runs on past any token's length
        t[:50],  # truncated
        "ghp_" + "a" * 36,  # other vendors' tokens
        "glpat-" + "a" * 20,
        "sk_live_" + "a" * 24,
    ]
    for text in misses:
        assert find(kind, text) == [], text


def test_sigil_scan_agrees_with_the_rules(tokens, tmp_path):
    """sigil scan finds what the rules find, and refuses the structural near miss the rules
    cannot tell apart (a bad length inside the payload)."""
    t = tokens[0]
    broken = t[:40] + ("A" if t[40] != "A" else "B") + t[41:]
    (tmp_path / "leak.txt").write_text(f"a {t}\nb {broken}\nc xsgl_{t[4:]}\n")
    run = subprocess.run(
        [SIGIL, "--home", str(tmp_path / "none"), "scan", str(tmp_path), "--json"], capture_output=True, text=True
    )
    assert run.returncode == 1, run.stderr
    found = json.loads(run.stdout)
    lines = [f["line"] for f in found["findings"]]
    assert 1 in lines and 3 not in lines
    assert t not in run.stdout and t not in run.stderr
    for kind in PATTERNS:
        assert t in find(kind, (tmp_path / "leak.txt").read_text())
