#!/usr/bin/env python3
"""Compares every runner's answers with the reference (the first runner, Swift), case by case.

    compare.py CASES LABELS NAME=ANSWERS [NAME=ANSWERS ...]

Answers agree when they are the same JSON object, except that two {"error": ...} answers
agree whatever their messages say (runners word configuration errors in their own language).
Prints each disagreement with its case index, label, the case (token and list shortened) and
every runner's answer; exits 1 if there is any. Standard library only."""

import json
import sys
from typing import Dict, List, Optional

SHOWN = 25  # disagreements printed in full; the rest are counted


def load(path: str) -> List[str]:
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def parse(line: Optional[str]) -> object:
    if line is None:
        return "<no answer>"
    try:
        return json.loads(line)
    except ValueError:
        return "<not JSON: " + line[:80] + ">"


def same(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict) and "error" in a and "error" in b:
        return True
    return a == b


def shorten(text: object, keep: int = 24) -> object:
    if isinstance(text, str) and len(text) > keep + 8:
        return f"{text[:keep]}…({len(text)} chars)"
    return text


def readable(line: str) -> str:
    try:
        case = json.loads(line)
    except ValueError:
        return line[:200]
    if not isinstance(case, dict):
        return line[:200]
    keyset = case.get("keyset")
    if isinstance(keyset, dict):
        kids = [k.get("kid") for k in keyset.get("token_keys", []) if isinstance(k, dict)]
        rkids = [k.get("kid") for k in keyset.get("revocation_keys", []) if isinstance(k, dict)]
        case["keyset"] = f"<audience {keyset.get('audience')!r}, token keys {kids}, list keys {rkids}>"
    case["token"] = shorten(case.get("token"), 40)
    case["revocations"] = shorten(case.get("revocations"))
    return json.dumps(case, ensure_ascii=False)


def main(argv: List[str]) -> int:
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    cases, labels = load(argv[1]), load(argv[2])
    names: List[str] = []
    answers: Dict[str, List[str]] = {}
    for arg in argv[3:]:
        name, _, path = arg.partition("=")
        names.append(name)
        answers[name] = load(path)
    reference = names[0]
    disagreements = 0
    agree = {name: 0 for name in names[1:]}
    for i, line in enumerate(cases):
        mine = parse(answers[reference][i] if i < len(answers[reference]) else None)
        wrong = []
        for name in names[1:]:
            theirs = parse(answers[name][i] if i < len(answers[name]) else None)
            if same(mine, theirs):
                agree[name] += 1
            else:
                wrong.append(name)
        if not wrong:
            continue
        disagreements += 1
        if disagreements <= SHOWN:
            label = labels[i] if i < len(labels) else "?"
            print(f"case {i} ({label}): {', '.join(wrong)} disagree with {reference}")
            print(f"  case: {readable(line)}")
            for name in names:
                got = answers[name][i] if i < len(answers[name]) else "<no answer>"
                print(f"  {name:>10}: {got}")
    for name in names[1:]:
        extra = len(answers[name]) - len(cases)
        note = f" ({extra:+d} lines)" if extra else ""
        print(f"{name}: {agree[name]}/{len(cases)} answers agree with {reference}{note}")
    if disagreements > SHOWN:
        print(f"... and {disagreements - SHOWN} more disagreements")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
