#!/usr/bin/env bash
# A small mutation pass over the rules that decide who may do what: delegation, reach, window,
# cascade (SigilIssuer) and the server's sessions, limiter, query parsing and broadcaster.
#
#   scripts/mutation.sh               # every mutant below
#   scripts/mutation.sh --list        # the mutants, without running anything
#   scripts/mutation.sh --only 3,17   # some of them, by number
#
# Each mutant is one single-line change (file, original text, mutated text). For each: the
# original text must occur exactly once in the file; the file is saved, mutated, the mutant's
# tests run (`swift test --filter …` in the root package for SigilIssuer mutants,
# `swift test --package-path Server --filter …` for server mutants), and the file is restored
# from the saved copy (never `git checkout`, so nobody's uncommitted work is touched). A
# failing test run kills the mutant; a build failure counts as killed too but is reported as
# "stillborn"; a mutant whose tests pass survived: a rule no test states.
#
# Run it on a quiet tree: a mutant is visible to anyone building while it runs. Results go to
# .build/mutation-results.tsv; the exit status is 1 if fewer than MUTATION_MIN_KILLED percent
# (default 90) were killed. MUTATION_TIMEOUT bounds each test run (seconds, default 900).
set -euo pipefail
cd "$(dirname "$0")/.."
export SWIFT_BACKTRACE=enable=no

exec python3 - "$@" <<'PYTHON'
import os, shutil, subprocess, sys, tempfile, time

ISSUER = "Sources/SigilIssuer/Issuer+Callers.swift"
AUTH = "Server/Sources/SigilServer/Authentication.swift"
SESSIONS = "Server/Sources/SigilServer/SessionStore.swift"
BROADCASTER = "Server/Sources/SigilServer/Broadcaster.swift"
QUERY = "Server/Sources/SigilServer/Query.swift"
CONTEXT = "Server/Sources/SigilServer/ServerContext.swift"
ERRORS = "Server/Sources/SigilServer/ErrorMiddleware.swift"

ROOT_TESTS = "SigilIssuerTests"
SERVER_TESTS = "SigilServerTests\\."

# (file, original text, mutated text, test filter): what each breaks is in the comment.
MUTANTS = [
    # Reach is exact audience equality.
    (ISSUER, "audiences?.contains(audience) ?? true",
     "audiences?.contains(where: { audience.hasPrefix($0) }) ?? true", ROOT_TESTS),
    (ISSUER, "audience == Self.organization ? nil : [audience]",
     "audience.hasPrefix(Self.organization) ? nil : [audience]", ROOT_TESTS),
    (ISSUER, "guard caller.reaches(request.audience) else {",
     "guard caller.reaches(request.audience) || true else {", ROOT_TESTS),
    # Scope covering: read-only covers read pairs only; custom covers its own pairs.
    (ISSUER, "return pairs.first { catalog.access(of: $0) != .read }", "return nil", ROOT_TESTS),
    (ISSUER, "case (.readOnly, .readOnly): return nil", 'case (.readOnly, .readOnly): return "read-only"',
     ROOT_TESTS),
    (ISSUER, "return pairs.first { !mine.contains($0) }", "return nil", ROOT_TESTS),
    (ISSUER, 'case (_, .all): return "all"', "case (_, .all): return nil", ROOT_TESTS),
    # The caller's window: valid_from, valid_to (equal allowed), after(d), the default, never.
    (ISSUER, "from < earliest {", "from < earliest - 1 {", ROOT_TESTS),
    (ISSUER, ".at(let t) where t > limit,", ".at(let t) where t > limit + 1,", ROOT_TESTS),
    (ISSUER, ".at(let t) where t > limit,", ".at(let t) where t >= limit,", ROOT_TESTS),
    (ISSUER, ".after(let t) where from.addingReportingOverflow(t).partialValue > limit:",
     ".after(let t) where t > limit:", ROOT_TESTS),
    (ISSUER, "request.expiry = .at(min(from.addingReportingOverflow(Self.defaultLifetime).partialValue, limit))",
     "request.expiry = .at(from.addingReportingOverflow(Self.defaultLifetime).partialValue)", ROOT_TESTS),
    (ISSUER, "case .never:", "case .never where false:", ROOT_TESTS),
    # Cascade: refused past the caller's reach; ancestors are never changed.
    (ISSUER, ".filter { !caller.reaches($0.audience) }", ".filter { _ in false }", ROOT_TESTS),
    (ISSUER, "try refuseAncestors(ids, of: caller)", "_ = caller", ROOT_TESTS),
    # Sessions: a guessed cookie costs the budget; CSRF exactly once; 16 sessions per token.
    (AUTH, "if error.status == .unauthorized { try limiter.chargeFailure(context.client) }",
     "if error.status == .forbidden { try limiter.chargeFailure(context.client) }", SERVER_TESTS),
    (SESSIONS, "guard sent.count == 1, Secrets.equal(", "guard sent.count >= 1, Secrets.equal(", SERVER_TESTS),
    (SESSIONS, "if own.count >= Self.maxSessionsPerToken, let oldest",
     "if own.count > Self.maxSessionsPerToken, let oldest", SERVER_TESTS),
    # The limiter: a valid token is never refused; tries come back; an empty bucket refuses.
    (AUTH, "let credentials = BearerCredentials(authorization: request.headers[values: .authorization])",
     "try limiter.refuseIfExhausted(context.client); "
     "let credentials = BearerCredentials(authorization: request.headers[values: .authorization])", SERVER_TESTS),
    (AUTH, "min(burst, bucket.tokens + seconds * refillPerSecond)", "min(burst, bucket.tokens)", SERVER_TESTS),
    (AUTH, "guard current.tokens < 1 else { return nil }", "guard current.tokens < 0 else { return nil }",
     SERVER_TESTS),
    # X-Forwarded-For names the client behind a trusted proxy.
    (CONTEXT, "context.client = client.limitKey", "context.client = peer.limitKey", SERVER_TESTS),
    # Query parsing: repeats and unknown names are 400.
    (QUERY, "guard values.count <= 1 else", "guard values.count <= 2 else", SERVER_TESTS),
    (QUERY, "if let name = values.unknown {", "if let name = values.unknown, name.isEmpty {", SERVER_TESTS),
    # Errors: 403 carries the insufficient_scope challenge.
    (ERRORS, "if code == .forbidden { api.headers[.wwwAuthenticate]",
     "if code == .notFound { api.headers[.wwwAuthenticate]", SERVER_TESTS),
    # The broadcaster wakes waiters of older sequences only.
    (BROADCASTER, "let due = s.waiters.keys.filter { $0 < sequence }", "let due = Array(s.waiters.keys)",
     SERVER_TESTS),
]

args = sys.argv[1:]
if "--list" in args:
    for n, (path, old, new, tests) in enumerate(MUTANTS, 1):
        print(f"{n:2}  {path}\n      - {old}\n      + {new}\n      tests: {tests}")
    sys.exit(0)
chosen = range(1, len(MUTANTS) + 1)
if "--only" in args:
    chosen = [int(n) for n in args[args.index("--only") + 1].split(",")]

timeout = int(os.environ.get("MUTATION_TIMEOUT", "900"))
minimum = float(os.environ.get("MUTATION_MIN_KILLED", "90"))
saved_dir = tempfile.mkdtemp(prefix="sigil-mutation.")
os.makedirs(".build", exist_ok=True)
results = []


def restore(path, saved, mutated):
    """Puts the saved original back; if someone edited the file meanwhile, undo only our line."""
    current = open(path).read()
    original = open(saved).read()
    if current == mutated:
        shutil.copyfile(saved, path)
    elif current != original:
        old, new = pending[path]
        if current.count(new) == 1:
            open(path, "w").write(current.replace(new, old))
            print(f"    note: {path} changed during the run; only the mutated line was undone")
        else:
            print(f"    WARNING: {path} changed during the run and the mutant is not found; original at {saved}")
            return False
    return True


pending = {}
for n in chosen:
    path, old, new, tests = MUTANTS[n - 1]
    text = open(path).read()
    if text.count(old) != 1:
        print(f"[{n:2}] SKIPPED  {path}: the original text occurs {text.count(old)} times")
        results.append((n, "skipped", path, old))
        continue
    saved = os.path.join(saved_dir, f"{n}-" + os.path.basename(path))
    shutil.copyfile(path, saved)
    mutated = text.replace(old, new)
    pending[path] = (old, new)
    command = ["swift", "test", "--filter", tests]
    if path.startswith("Server/"):
        command = ["swift", "test", "--package-path", "Server", "--filter", tests]
    started = time.monotonic()
    try:
        open(path, "w").write(mutated)
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
            output, status = run.stdout + run.stderr, run.returncode
        except subprocess.TimeoutExpired:
            output, status = "", "timeout"
    finally:
        if not restore(path, saved, mutated):
            sys.exit(2)
        del pending[path]
    if status == 0:
        verdict = "survived"
    elif status != "timeout" and "error: " in output and "Test run" not in output:
        verdict = "stillborn"
    else:
        verdict = "killed"
    seconds = time.monotonic() - started
    print(f"[{n:2}] {verdict.upper():9} {seconds:5.0f} s  {path}: {old!r} -> {new!r}")
    if verdict == "killed":
        failing = [line for line in output.splitlines() if line.startswith("✘ Test") and "recorded" in line]
        if failing:
            print("      by: " + failing[0][:160])
    results.append((n, verdict, path, old))

shutil.rmtree(saved_dir, ignore_errors=True)
with open(".build/mutation-results.tsv", "w") as out:
    for n, verdict, path, old in results:
        out.write(f"{n}\t{verdict}\t{path}\t{old}\n")
ran = [r for r in results if r[1] != "skipped"]
killed = [r for r in ran if r[1] in ("killed", "stillborn")]
share = 100.0 * len(killed) / len(ran) if ran else 0.0
print(f"mutation: {len(killed)} of {len(ran)} killed ({share:.0f}%), "
      f"{sum(r[1] == 'stillborn' for r in ran)} stillborn, {len(results) - len(ran)} skipped; "
      f"survivors: {[r[0] for r in ran if r[1] == 'survived'] or 'none'}")
sys.exit(0 if share >= minimum else 1)
PYTHON
