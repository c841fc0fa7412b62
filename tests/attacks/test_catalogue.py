"""Every case of the attack catalogue is named by a test, so a gap fails CI.

The catalogue (``security-cases.md``, kept with the project's design notes) numbers its
cases and gives each an id such as ``IDT-01``. Its list of ids is copied below as data.
A case counts as covered when a test function under ``tests/`` carries the id in its name
(``test_idt01_...``) or its docstring (``IDT-01``), or when a test module's docstring
names it (a module given over to one case, such as the connect-account suite).
"""

from __future__ import annotations

import ast
import functools
import os
import re
from collections import Counter
from pathlib import Path

#: ``<case number> <id>`` for each case of the catalogue, in its order.
CATALOGUE = """
1 IDT-01
2 IDT-02
3 IDT-03
4 IDT-04
5 IDT-05
7 IDT-07
8 IDT-08
10 IDT-10
11 IDT-11
13 IDT-13
14 IDT-14
17 IDT-17
18 IDT-18
20 IDT-20
21 IDT-21
23 TXN-01
24 TXN-02
25 TXN-03
26 TXN-04
27 TXN-05
30 TXN-08
31 TXN-09
32 TXN-10
34 TXN-12
36 RED-01
37 RED-02
39 RED-04
41 RED-06
42 RED-07
43 RED-08
44 RED-09
45 RED-10
46 RED-11
47 SES-01
48 SES-02
49 SES-03
51 SES-05
52 SES-06
54 SES-08
55 SES-09
56 SES-10
57 SES-11
58 SES-12
60 TOK-01
61 TOK-02
63 TOK-04
64 TOK-05
65 TOK-06
67 TOK-08
68 TOK-09
69 REF-01
70 REF-02
71 REF-03
72 REF-04
73 REF-05
74 REF-06
75 REF-07
77 REF-09
78 LGO-01
79 LGO-02
80 LGO-03
81 LGO-04
82 LGO-05
83 LGO-06
84 LGO-07
85 LGO-08
86 LGO-09
87 LGO-10
88 LGO-11
90 LGO-13
91 LGO-14
92 LGO-15
93 LGO-16
94 LGO-17
95 DPP-01
96 DPP-02
98 DPP-04
99 DPP-05
100 DPP-06
101 DPP-07
102 EXT-01
103 EXT-02
104 EXT-03
105 EXT-04
106 EXT-05
107 EXT-06
108 EXT-07
109 EXT-08
110 HTTP-01
111 HTTP-02
113 HTTP-04
114 HTTP-05
115 HTTP-06
117 DOS-01
118 DOS-02
119 DOS-03
120 DOS-04
"""

GROUPS = ("IDT", "TXN", "RED", "SES", "TOK", "REF", "LGO", "DPP", "EXT", "HTTP", "DOS")
_LINE = re.compile(r"(\d+) ((?:IDT|TXN|RED|SES|TOK|REF|LGO|DPP|EXT|HTTP|DOS)-\d\d)")
TESTS = Path(__file__).resolve().parents[1]


def catalogue() -> list[tuple[int, str]]:
    entries = []
    for line in CATALOGUE.strip().splitlines():
        match = _LINE.fullmatch(line.strip())
        assert match is not None, f"malformed catalogue line: {line!r}"
        entries.append((int(match[1]), match[2]))
    return entries


def case_ids() -> list[str]:
    return [case for _, case in catalogue()]


def test_catalogue_copy_is_well_formed() -> None:
    entries = catalogue()
    numbers = [number for number, _ in entries]
    ids = [case for _, case in entries]
    assert numbers == sorted(set(numbers)), "case numbers must be unique and in order"
    assert len(ids) == len(set(ids)) == 97
    groups = Counter(case.split("-")[0] for case in ids)
    assert tuple(groups) == GROUPS  # all eleven groups, in the catalogue's order
    for group in GROUPS:
        within = [int(case.split("-")[1]) for case in ids if case.startswith(group + "-")]
        assert within == sorted(within) and within[0] == 1, group


def _sources() -> list[Path]:
    """Every Python file under ``tests/`` but this one (which names every id)."""
    here = Path(__file__).resolve()
    found: list[Path] = []
    for root, dirs, files in os.walk(TESTS):
        dirs[:] = [d for d in dirs if d not in ("node_modules", "__pycache__") and d[0] != "."]
        found += [Path(root, name) for name in files if name.endswith(".py")]
    return sorted(path for path in found if path.resolve() != here)


@functools.cache
def naming_texts() -> list[tuple[str, str, str]]:
    """``(where, kind, text)`` for each test function name, test function docstring and
    test module docstring under ``tests/``."""
    found: list[tuple[str, str, str]] = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = str(path.relative_to(TESTS.parent))
        if path.name.startswith("test_"):
            module_doc = ast.get_docstring(tree)
            if module_doc:
                found.append((where, "module docstring", module_doc))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test"
            ):
                found.append((f"{where}::{node.name}", "name", node.name))
                doc = ast.get_docstring(node)
                if doc:
                    found.append((f"{where}::{node.name}", "docstring", doc))
    return found


_GROUP = "|".join(GROUPS)
_IN_NAME = re.compile(rf"(?<![a-z0-9])({_GROUP.lower()})(\d\d)(?![0-9])")
_IN_TEXT = re.compile(rf"(?<![A-Z0-9-])({_GROUP})-(\d\d)(?![0-9])")


def named_cases(kind: str, text: str) -> set[str]:
    """The case ids a test name (``test_idt01_...``) or a docstring (``IDT-01``) names."""
    if kind == "name":
        return {f"{g.upper()}-{n}" for g, n in _IN_NAME.findall(text.lower())}
    return {f"{g}-{n}" for g, n in _IN_TEXT.findall(text)}


def _names(case: str, kind: str, text: str) -> bool:
    return case in named_cases(kind, text)


def coverage(*, functions_only: bool = False) -> dict[str, list[str]]:
    places: dict[str, list[str]] = {case: [] for case in case_ids()}
    for where, kind, text in naming_texts():
        if functions_only and kind == "module docstring":
            continue
        for case in named_cases(kind, text):
            if case in places:
                places[case].append(where)
    return places


def test_every_catalogue_case_is_named_by_a_test() -> None:
    missing = [case for case, places in coverage().items() if not places]
    assert not missing, (
        "catalogue cases that no test function (name or docstring) and no test module "
        f"docstring under tests/ names: {missing}"
    )


def test_every_case_has_a_test_function_of_its_own() -> None:
    """Module docstrings only group cases; each case also has at least one test function
    naming it, except the ones a module is dedicated to as a whole."""
    dedicated = {"EXT-07"}  # tests/attacks/test_ext_connect.py is the connect-account suite
    bare = {case for case, places in coverage(functions_only=True).items() if not places}
    assert bare <= dedicated, sorted(bare - dedicated)


def test_matching_is_exact() -> None:
    """``RED-1`` is not ``RED-11``, and ``test_idt010`` names nothing."""
    assert _names("RED-11", "docstring", "RED-11: the connect returnTo")
    assert not _names("RED-01", "docstring", "RED-011")
    assert not _names("RED-01", "docstring", "XRED-01")
    assert _names("IDT-01", "name", "test_idt01_alg_none_rejected")
    assert not _names("IDT-01", "name", "test_idt010_x")
    assert not _names("DOS-01", "name", "test_xdos01")
    assert _names("HTTP-01", "name", "test_http01_static_base")
