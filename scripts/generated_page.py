"""What the page generators (make_results.py, make_ablations.py) share: write a generated page, or with
--check exit 1 when the page on disk is not what the generator makes."""
import sys
from pathlib import Path


def write_or_check(page: Path, text: str, sources: str, script: str) -> int:
    if "--check" in sys.argv[1:]:
        if not page.exists() or page.read_text() != text:
            print(f"{page} is not what {script} makes of {sources}: rerun it", file=sys.stderr)
            return 1
        print(f"{page} matches {sources}")
        return 0
    page.write_text(text)
    print(f"-> {page}")
    return 0
