"""Comments and docstrings cite only what a reader of the repository can open: its own files or a public URL.

Working notes that never ship (a product brief, research notes, issue numbers) mean nothing to a newcomer, so a
comment says the thing itself, names a README section, or links a public page.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON_DIRS = ("per_cli", "commands", "tests", "bench")
SCRIPTS = (*sorted(ROOT.glob("examples/**/*.sh")), ROOT / "Makefile", ROOT / ".ci" / "run")

FORBIDDEN = [
    (re.compile(r"\bSPEC\b"), "cites the product brief"),
    (re.compile(r"\b(?:issue|ticket)s? #?\d+", re.I), "cites an issue"),
    # an issue's item opens a comment or sits in brackets; a scale's ranges ("items 28-30") are not flagged
    (re.compile(r"(?:^[#:\s\"]*|\()[Ii]tems? \d+\b(?!\s*[-–]\s*\d)", re.M), "cites an item of an issue"),
    (re.compile(r"\b(?:the )?(?:brief|reference)(?:'s)? (?:table )?\(?§"), "cites a section of a working note"),
]
#: a section sign is fine in a public citation: Swedish law ("8 kap. 5 §") and NIST SP 800-63B §5.1.3.2
PUBLIC_SECTIONS = re.compile(r"\d+ kap\. \d+(?: [a-z])? §|SP 800-63B §[\d.]+")
MARKDOWN_FILE = re.compile(r"[\w./-]*\w\.md\b")
URL = re.compile(r"\bhttps?://\S+")


def problems(text: str, where: Path) -> list[str]:
    """What is wrong with one comment or docstring of the file ``where``."""
    text = URL.sub("", text)  # a public page may be named anything
    found = [f"{why}: {m.group()!r}" for pattern, why in FORBIDDEN for m in pattern.finditer(text)]
    if "§" in PUBLIC_SECTIONS.sub("", text):
        found.append("a section sign outside a public citation")
    for name in MARKDOWN_FILE.findall(text):
        if not ((ROOT / name).exists() or (where.parent / name).exists()):
            found.append(f"names a document the repository does not contain: {name}")
    return found


def _python_texts(path: Path) -> list[tuple[int, str]]:
    """Every comment and docstring of a Python file, with its line number."""
    source = path.read_text(encoding="utf-8")
    texts = [
        (tok.start[0], tok.string)
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                texts.append((first.lineno, first.value.value))
    return texts


def _all_texts() -> list[tuple[Path, int, str]]:
    found: list[tuple[Path, int, str]] = []
    for directory in PYTHON_DIRS:
        for path in sorted((ROOT / directory).rglob("*.py")):
            found += [(path, line, text) for line, text in _python_texts(path)]
    for path in SCRIPTS:
        found += [(path, n, line) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)]
    return found


def test_comments_and_docstrings_cite_only_what_the_repository_or_the_web_holds() -> None:
    texts = _all_texts()
    assert len(texts) > 1000  # the scan found the code
    bad = [
        f"{path.relative_to(ROOT)}:{line}: {problem}" for path, line, text in texts for problem in problems(text, path)
    ]
    assert bad == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Configuration precedence (SPEC §3).", ["cites the product brief", "section sign"]),
        ("Sending passwords (issue 4): texts.", ["cites an issue"]),
        ("Item 9: the same code verified twice.", ["an item of an issue"]),
        ("Bulk enrolment (item 3) of issue #12", ["cites an issue", "an item of an issue"]),
        ("# items 28-30: (0 + 1 + 1) / 12 × 100; item 28 may be empty", []),
        ("Errors follow the reference's table (§5).", ["working note", "section sign"]),
        ("See security.md for the rules.", ["security.md"]),
        ("The file format is described in ``README.md`` beside this module.", []),
        ("Patientdatalagen 8 kap. 5 §; HSLF-FS 2016:40 4 kap. 9 §.", []),
        ("Length and a blocklist (NIST SP 800-63B §3.1.1.2).", []),
        ("See https://github.com/encode/httpx/issues/3441 and the README.", []),
    ],
)
def test_the_check_tells_a_private_citation_from_a_public_one(text: str, expected: list[str]) -> None:
    found = problems(text, ROOT / "per_cli" / "scales" / "parser.py")
    assert len(found) == len(expected), found
    for problem, fragment in zip(found, expected, strict=True):
        assert fragment in problem
