#!/usr/bin/env python3
"""Checks that every code block in docs/ marked with `<!-- snippet: PATH -->` is exactly the file
PATH (relative to the repository root). The snippet files are compiled and run as tests
(examples/CMakeLists.txt), so documented code cannot drift from code that builds and runs.

usage: check_doc_snippets.py REPO_ROOT
"""
import pathlib
import re
import sys

MARKER = re.compile(r"<!-- snippet: (?P<path>\S+) -->\s*\n```cpp\n(?P<body>.*?)```", re.S)


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    checked, problems = 0, []
    for doc in sorted((root / "docs").rglob("*.md")):
        for match in MARKER.finditer(doc.read_text(encoding="utf-8")):
            source = root / match["path"]
            checked += 1
            if not source.is_file():
                problems.append(f"{doc.relative_to(root)}: snippet file {match['path']} does not exist")
            elif source.read_text(encoding="utf-8").strip() != match["body"].strip():
                problems.append(f"{doc.relative_to(root)}: the block differs from {match['path']} (copy the file into the doc)")
    for p in problems:
        print(p, file=sys.stderr)
    if checked == 0:
        print("no snippet markers found under docs/", file=sys.stderr)
        return 1
    print(f"{checked} doc snippet(s) checked, {len(problems)} out of date")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
