"""The README, docs/ and configs/README.md quote only what exists.

Every repository path they name (``tools/...``, ``configs/...``,
``docs/...``, ...) must exist, every relative link (and its ``#anchor``)
must resolve, and every ``--flag`` given to a tool in a command
(``tools/X.py ... --flag``, ``uagit-translate``, ``uagit-demo``) must be
in that tool's ``--help``: renaming a flag or moving a file fails here.
Every config is listed in ``configs/README.md`` and ``configs/metafile.yml``
and every package file in the code map of ``docs/design.md``.
"""
import glob
import json
import os.path as osp
import re
import subprocess
import sys
from functools import lru_cache
from typing import Callable, Dict, Iterable, List
from unittest import TestCase

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DOCS = ['README.md', 'configs/README.md'] + sorted(
    osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'docs', '*.md')))

# a path into the repository: a top-level folder, then no spaces or quotes
PATH = re.compile(r'(?<![\w./-])((?:tools|configs|docs|tests|requirements|'
                  r'uagit_mm|\.ci)/[^\s`\'"()\[\]|,;:#]*)')
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')
FENCE = re.compile(r'^[ \t]*```[^\n]*\n(.*?)^[ \t]*```', re.S | re.M)
INLINE = re.compile(r'`([^`\n]+)`')
# a command: a tool, then its arguments up to the end of the command
COMMAND = re.compile(r'(?<![\w/.-])'
                     r'(tools/[\w/]+\.py|uagit-translate|uagit-demo)'
                     r'([^|;&#>\n]*)')
FLAG = re.compile(r'(?<![\w-])(--[a-z][\w-]*)')
ALIASES = {'uagit-translate': 'tools/translate.py',
           'uagit-demo': 'tools/demo.py'}

# Runs every tool's --help in one process (each tool by runpy, as
# `python tools/X.py --help` runs it), so mmagic is imported once.
HELP_SCRIPT = r'''
import contextlib, io, json, runpy, sys
out = {}
for tool in sys.argv[1:]:
    buf = io.StringIO()
    sys.argv = [tool, '--help']
    try:
        with contextlib.redirect_stdout(buf):
            runpy.run_path(tool, run_name='__main__')
    except SystemExit:
        pass
    except Exception as err:  # noqa
        buf.write(f'ERROR {type(err).__name__}: {err}')
    out[tool] = buf.getvalue()
sys.stdout.write(json.dumps(out))
'''


def read(rel: str) -> str:
    with open(osp.join(ROOT, rel), encoding='utf-8') as f:
        return f.read()


def code_spans(text: str) -> List[str]:
    """The fenced blocks (backslash continuations joined) and the inline
    code spans of a markdown text."""
    blocks = [b.replace('\\\n', ' ') for b in FENCE.findall(text)]
    rest = FENCE.sub('', text).replace('\n', ' ')
    return blocks + INLINE.findall(rest)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    s = re.sub(r'[^\w\- ]', '', heading.strip().lower())
    return s.replace(' ', '-')


def anchors(text: str) -> set:
    return {
        slug(h) for h in re.findall(r'^#+ (.+)$', FENCE.sub('', text), re.M)
    }


def path_problems(rel: str, text: str, root: str = ROOT) -> List[str]:
    """Repository paths quoted in ``text`` (the file ``rel``) that do not
    exist. Placeholders (``<name>``, ``{a,b}``, ``...``) are left alone;
    a ``*`` must match at least one file."""
    problems = []
    for path in set(PATH.findall(text)):
        path = path.rstrip('.')
        if re.search(r'[<>{}]|\.\.\.|…', path):
            continue
        if '*' in path:
            if not glob.glob(osp.join(root, path)):
                problems.append(f'{rel}: no file matches {path}')
        elif not osp.exists(osp.join(root, path)):
            problems.append(f'{rel}: {path} does not exist')
    return problems


def link_problems(rel: str, text: str,
                  exists: Callable[[str], bool] = lambda p: osp.exists(
                      osp.join(ROOT, p)),
                  reader: Callable[[str], str] = read) -> List[str]:
    """Relative links (and their anchors) of ``text`` that do not
    resolve; ``exists`` and ``reader`` take a repository path."""
    problems = []
    for target in LINK.findall(FENCE.sub('', text)):
        if re.match(r'[a-z]+:', target):
            continue
        path, _, anchor = target.partition('#')
        dest = osp.normpath(osp.join(osp.dirname(rel), path)) if path \
            else rel
        if not exists(dest):
            problems.append(f'{rel}: link {target}: {dest} does not exist')
        elif anchor and dest.endswith('.md') and \
                anchor not in anchors(reader(dest)):
            problems.append(f'{rel}: link {target}: no heading #{anchor} '
                            f'in {dest}')
    return problems


def commands(text: str) -> Iterable[tuple]:
    """``(tool, flags)`` of every tool command quoted in code."""
    for span in code_spans(text):
        for line in span.split('\n'):
            for tool, args in COMMAND.findall(line):
                yield ALIASES.get(tool, tool), FLAG.findall(args)


def flag_problems(rel: str, text: str, helps: Dict[str, str]) -> List[str]:
    """Flags given to a tool in ``text`` that its help does not list;
    ``helps`` maps a tool to its ``--help`` text."""
    problems = []
    for tool, flags in commands(text):
        if tool not in helps:
            continue  # a tool that does not exist: path_problems says so
        known = set(FLAG.findall(helps[tool]))
        problems += [f'{rel}: {tool} has no {flag}' for flag in flags
                     if flag not in known]
    return problems


@lru_cache(maxsize=None)
def tool_helps() -> Dict[str, str]:
    """Every quoted Python tool's ``--help``, from one subprocess."""
    tools = sorted({tool for rel in DOCS for tool, _ in commands(read(rel))
                    if osp.isfile(osp.join(ROOT, tool))})
    out = subprocess.run([sys.executable, '-W', 'ignore', '-c',
                          HELP_SCRIPT] + tools, cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


class TestChecker(TestCase):
    """The checks themselves, on small made-up texts."""

    HELP = {'tools/translate.py': 'usage: translate.py [-h] --out-dir DIR '
            '[--max-side N]\n  --mask-dir DIR'}

    def test_renamed_flag_fails(self):
        text = ('```bash\n.venv/bin/python tools/translate.py C K in \\\n'
                '    --out-dir o --max-size 64   # a comment --nothing\n```\n'
                'and `uagit-translate C K x --mask-folder m`, '
                '`tools/translate.py C K x --mask-dir m`.')
        self.assertEqual(
            sorted(flag_problems('X.md', text, self.HELP)),
            ['X.md: tools/translate.py has no --mask-folder',
             'X.md: tools/translate.py has no --max-size'])

    def test_known_flags_pass(self):
        text = '`tools/translate.py C K x --out-dir o --max-side 64 | tee`'
        self.assertEqual(flag_problems('X.md', text, self.HELP), [])

    def test_missing_path_fails(self):
        text = ('`tools/translate.py`, tools/no_such_tool.py, '
                '`configs/uagit_cpu_*_synthetic64.py`, `configs/nope_*.py`, '
                '`work_dirs/<name>/x.png`, `tools/<name>.py`.')
        self.assertEqual(
            sorted(path_problems('X.md', text)),
            ['X.md: no file matches configs/nope_*.py',
             'X.md: tools/no_such_tool.py does not exist'])

    def test_broken_link_fails(self):
        pages = {'docs/a.md': '# Title\n## The Section (x.py)\n'}
        text = ('[ok](docs/a.md) [ok](docs/a.md#the-section-xpy) '
                '[web](https://example.org/x) [bad](docs/none.md) '
                '[bad](docs/a.md#nothing)')
        problems = link_problems('README.md', text, exists=pages.__contains__,
                                 reader=pages.__getitem__)
        self.assertEqual(len(problems), 2)
        self.assertIn('docs/none.md does not exist', problems[0])
        self.assertIn('no heading #nothing', problems[1])


class TestDocs(TestCase):
    """The real README, docs/ pages and configs/README.md."""

    def test_paths_exist(self):
        problems = [p for rel in DOCS for p in path_problems(rel, read(rel))]
        self.assertEqual(problems, [])

    def test_links_resolve(self):
        problems = [p for rel in DOCS for p in link_problems(rel, read(rel))]
        self.assertEqual(problems, [])

    def test_flags_exist(self):
        helps = tool_helps()
        broken = {t: h for t, h in helps.items() if 'usage:' not in h}
        self.assertEqual(broken, {}, 'tools whose --help failed')
        problems = [
            p for rel in DOCS for p in flag_problems(rel, read(rel), helps)
        ]
        self.assertEqual(problems, [])

    def test_every_page_linked_from_readme(self):
        readme = read('README.md')
        pages = [rel for rel in DOCS if rel.startswith('docs/')]
        self.assertTrue(pages)
        self.assertEqual([p for p in pages if f'({p})' not in readme], [])

    def test_every_config_listed(self):
        configs = sorted(
            osp.relpath(p, ROOT)
            for p in glob.glob(osp.join(ROOT, 'configs', '*.py')))
        self.assertTrue(configs)
        readme, metafile = read('configs/README.md'), read(
            'configs/metafile.yml')
        self.assertEqual([c for c in configs if f'`{c}`' not in readme], [])
        self.assertEqual(
            [c for c in configs if f'Config: {c}\n' not in metafile], [])

    def test_code_map_complete(self):
        design = read('docs/design.md')
        files = sorted(
            osp.relpath(p, ROOT)
            for p in glob.glob(osp.join(ROOT, 'uagit_mm', '**', '*.py'),
                               recursive=True)
            if not p.endswith('__init__.py') or p == osp.join(
                ROOT, 'uagit_mm', '__init__.py'))
        self.assertEqual([f for f in files if f'`{f}`' not in design], [])
