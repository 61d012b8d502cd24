"""A stand-in for the ``quarto`` CLI (1.7), for machines where Quarto cannot be installed.

It does with its arguments and files what the real ``quarto render`` does, as
read in Quarto's source (quarto-dev/quarto-cli, tag v1.7.34), and it runs the
*real* pandoc (the pypandoc-binary wheel) and the *real* Typst (the typst
wheel), so their own warnings and errors come out as they would under Quarto:

* ``render <input> --to a,b,c --no-execute [--quiet] [-M key:value]...``
  (src/command/render/flags.ts ``parseRenderFlags``). ``-M`` values are read
  as YAML for Quarto itself (``parseMetadataFlagValue``), but every ``-M``
  except Quarto's own keys and ``author``/``date``
  (``removeQuartoMetadataFlags``, ``kQuartoForwardedMetadataFields``) is
  passed on to pandoc **verbatim**; pandoc reads ``-M key:value`` values as
  plain strings, so ``-M 'title:"X"'`` gives a title with the quotes.
* Front matter comes from the notebook's first raw cell
  (src/core/jupyter/jupyter.ts); ``--to`` names formats, each with the
  options under ``format: <name>:``.
* Outputs are written beside the input, named after it: ``<stem>.html``,
  ``<stem>.pdf`` for ``typst``, ``<stem>.docx`` (src/command/render/output.ts).
* ``date`` is parsed and written in ``date-format``, ISO by default
  (src/core/date.ts), so "1 December 2026" becomes "2026-12-01" unless
  ``date-format`` is set.
* HTML: unless ``format-links: false`` (or ``minimal``/``theme: none``, which
  drop the bootstrap post-processor), an "Other Formats" list links the other
  rendered outputs by their file names (src/format/html/format-html-bootstrap.ts,
  format-html-links.ts). A ``template`` is staged with Quarto's
  ``metadata.html``/``styles.html`` partials (src/command/render/template.ts,
  src/resources/formats/html/pandoc/). ``css`` files must exist.
* Typst: Quarto's template.typ with its partials (src/format/typst/format-typst.ts,
  src/resources/formats/typst/pandoc/quarto/*.typ); ``template-partials``
  replace them by file name. A partial path starting with "/" is read as
  relative to the (single-file) project folder, i.e. the input's folder, and a
  missing partial is an error (``resolveTemplatePartialPaths``, ``readPartials``
  in template.ts). The .typ is compiled to PDF (src/core/typst.ts).
* Tables: a table caption without a ``tbl-`` label is removed while Quarto
  parses tables (src/resources/filters/quarto-pre/parsefiguredivs.lua);
  a labelled one is kept (numbered by Quarto's crossref; here as written).
* ``filters`` (Lua) run on the document; a missing one is an error.
* Word: ``reference-doc`` must exist.
* Progress and errors go to stderr; ``--quiet`` silences everything, errors
  included; failure exits 1 with "ERROR: ..." lines (src/core/log.ts).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

QUARTO_KEYS = {"format", "execute", "jupyter", "engine", "date-format", "keep-typ",
               "keep-md", "minimal", "theme", "embed-resources", "format-links", "css",
               "template", "template-partials", "reference-doc", "font-paths", "wrap",
               "html-math-method", "filters"}
EXTENSIONS = {"html": ".html", "typst": ".pdf", "docx": ".docx"}
PANDOC_TO = {"html": "html5", "typst": "typst", "docx": "docx"}

# Reduced copies of Quarto's partials (the parts a briefing uses).
HTML_PARTIALS = {
    "metadata.html": '<meta charset="utf-8" />\n<meta name="generator" content="quarto" />\n'
                     "<title>$pagetitle$</title>\n",
    "styles.html": "",
}
QUARTO_HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="$lang$"><head>
$metadata.html()$
$for(css)$<link rel="stylesheet" href="$css$" />$endfor$
</head><body>
$if(title)$<header id="title-block-header"><h1 class="title">$title$</h1>
$if(date)$<p class="date">$date$</p>$endif$</header>$endif$
$body$
</body></html>
"""
TYPST_TEMPLATE = """$definitions.typ()$

$typst-template.typ()$

$typst-show.typ()$

$body$
"""
TYPST_PARTIALS = {
    "definitions.typ": "#let horizontalrule = line(start: (25%,0%), end: (75%,0%))\n",
    "typst-template.typ": """#let article(title: none, date: none, lang: "en", region: "US",
  paper: "us-letter", doc) = {
  set page(paper: paper, numbering: "1")
  set par(justify: true)
  set text(lang: lang, region: region)
  if title != none { align(center, text(weight: "bold", size: 1.5em, title)) }
  if date != none { align(center, date) }
  doc
}
""",
    "typst-show.typ": """#show: doc => article(
$if(title)$  title: [$title$],
$endif$$if(date)$  date: [$date$],
$endif$$if(lang)$  lang: "$lang$",
$endif$$if(region)$  region: "$region$",
$endif$  doc,
)
""",
}


# Runs a user filter the way Quarto 1.7 does: with a `quarto` Lua module, and
# with callout divs already parsed into `Callout` nodes (type, title, content,
# attr) for a `Callout` handler (src/resources/filters/customnodes/callout.lua:
# the title is the `title` attribute or a leading heading).
USER_FILTER_RUNNER = r"""
quarto = { utils = {
  as_inlines = function(x) return pandoc.Inlines(x or {}) end,
  as_blocks = function(x) return pandoc.Blocks(x or {}) end,
} }
local filters = dofile(USER_FILTER)
if filters.Div or filters.Callout then filters = { filters } end
local function callout_node(div)
  for _, class in ipairs(div.classes) do
    local kind = class:match("^callout%-(%a+)$")
    if kind then
      local content = pandoc.Blocks(div.content)
      local title = div.attributes["title"] and pandoc.Inlines(div.attributes["title"]) or nil
      if not title and content[1] and content[1].t == "Header" then
        title = content[1].content
        content:remove(1)
      end
      return { type = kind, title = title, content = content, attr = div.attr }
    end
  end
end
local out = {}
for _, f in ipairs(filters) do
  local copy = {}
  for k, v in pairs(f) do copy[k] = v end
  if f.Callout then
    local handler, div_handler = f.Callout, f.Div
    copy.Div = function(div)
      local node = callout_node(div)
      if node then return handler(node) end
      if div_handler then return div_handler(div) end
    end
  end
  table.insert(out, copy)
end
return out
"""


class QuartoError(Exception):
    pass


def log(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, file=sys.stderr)


def parse_flags(args: list[str]) -> dict[str, Any]:
    if not args or args[0] != "render":
        raise QuartoError(f"Unknown command {args[:1]}")
    flags: dict[str, Any] = {"input": None, "to": None, "quiet": False, "execute": True,
                             "metadata": {}, "pandoc_args": []}
    stack = list(args[1:])
    while stack:
        arg = stack.pop(0)
        if arg in ("--to", "-t"):
            flags["to"] = stack.pop(0).split(",")
        elif arg in ("--quiet", "--q"):
            flags["quiet"] = True
        elif arg == "--no-execute":
            flags["execute"] = False
        elif arg in ("-M", "--metadata"):
            value = stack.pop(0)
            name, sep, raw = value.partition(":") if ":" in value else value.partition("=")
            if not sep:
                continue
            flags["metadata"][name] = yaml.safe_load(raw) if raw else None
            if name not in QUARTO_KEYS and name not in ("author", "date"):
                flags["pandoc_args"] += ["-M", value]  # verbatim, as flags.ts does
        elif arg.startswith("-"):
            flags["pandoc_args"].append(arg)
        elif flags["input"] is None:
            flags["input"] = arg
    return flags


def notebook_markdown(path: Path) -> tuple[dict[str, Any], str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb.get("cells", [])
    front: dict[str, Any] = {}
    text = lambda v: "".join(v) if isinstance(v, list) else (v or "")  # noqa: E731
    if cells and cells[0]["cell_type"] == "raw":
        source = text(cells[0]["source"]).strip()
        if source.startswith("---"):
            front = yaml.safe_load(source.strip("-\n").rsplit("\n---", 1)[0]) or {}
            cells = cells[1:]
    blocks = []
    for cell in cells:
        if cell["cell_type"] in ("markdown", "raw"):
            blocks.append(text(cell["source"]))
        elif cell["cell_type"] == "code":
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                if "text/markdown" in data:
                    blocks.append(text(data["text/markdown"]))
                elif "text/html" in data:
                    blocks.append("```{=html}\n" + text(data["text/html"]) + "\n```")
    return front, "\n\n".join(blocks)


def quarto_tables(markdown: str) -> str:
    """Drop unlabelled table captions, keep labelled ones (label removed for pandoc)."""
    lines = markdown.split("\n")
    out = []
    for i, line in enumerate(lines):
        caption = re.match(r"^(:|Table:)\s+\S", line)
        after_table = any(ln.lstrip().startswith("|") for ln in lines[max(0, i - 2):i])
        if caption and after_table:
            label = re.search(r"\s*\{#tbl-[^}]*\}\s*$", line)
            if not label:
                continue
            line = line[: label.start()]
        out.append(line)
    return "\n".join(out)


def format_date(value: Any, fmt: str | None) -> Any:
    day = None
    if isinstance(value, dt.date):
        day = value
    elif isinstance(value, str):
        for pattern in ("%Y-%m-%d", "%d %B %Y"):
            try:
                day = dt.datetime.strptime(value.strip(), pattern).date()
                break
            except ValueError:
                pass
    if day is None:
        return value
    if fmt == "D MMMM YYYY":
        return f"{day.day} {day:%B %Y}"
    return day.isoformat()


def pandoc_path() -> str:
    import pypandoc

    return pypandoc.get_pandoc_path()


def stage(files: dict[str, str], overrides: list[Path], folder: Path) -> None:
    for name, body in files.items():
        (folder / name).write_text(body, encoding="utf-8")
    for path in overrides:
        shutil.copyfile(path, folder / path.name)


def render_format(name: str, input_path: Path, meta: dict[str, Any], markdown: str,
                  flags: dict[str, Any], rendered: list[str]) -> Path:
    options = (meta.get("format") or {}).get(name)
    options = dict(options) if isinstance(options, dict) else {}  # "default": none
    doc_meta = {k: v for k, v in meta.items() if k not in QUARTO_KEYS}
    if "date" in doc_meta:
        doc_meta["date"] = format_date(doc_meta["date"], meta.get("date-format"))
    folder = input_path.parent
    out = folder / (input_path.stem + EXTENSIONS[name])
    with tempfile.TemporaryDirectory() as staging_dir:
        staging = Path(staging_dir)
        source = staging / "input.md"
        header = yaml.safe_dump(doc_meta, allow_unicode=True, sort_keys=False)
        source.write_text(f"---\n{header}---\n\n{quarto_tables(markdown)}\n", encoding="utf-8")
        cmd = [pandoc_path(), str(source), "--from", "markdown", "--to", PANDOC_TO[name],
               "--standalone", *flags["pandoc_args"]]
        if options.get("wrap"):
            cmd += ["--wrap", str(options["wrap"])]
        for k, lua in enumerate(options.get("filters") or []):  # relative to the input
            if not (folder / lua).is_file():
                raise QuartoError(f"Filter {lua} does not exist")
            runner = staging / f"user-filter-{k}.lua"
            runner.write_text(f"local USER_FILTER = {json.dumps(str(folder / lua))}\n"
                              + USER_FILTER_RUNNER, encoding="utf-8")
            cmd += ["--lua-filter", str(runner)]
        if name == "html":
            template = Path(options["template"]) if options.get("template") else None
            if template is not None and not template.is_file():
                raise QuartoError(f"Template file {template} does not exist")
            stage(HTML_PARTIALS, [], staging)
            (staging / "template.patched").write_text(
                template.read_text(encoding="utf-8") if template else QUARTO_HTML_TEMPLATE,
                encoding="utf-8")
            cmd += ["--template", str(staging / "template.patched"),
                    "--output", str(out), "--resource-path", str(folder)]
            for css in options.get("css") or []:
                if not (folder / css).is_file():
                    raise QuartoError(f"{css} (css) not found")
                cmd += ["--css", str(folder / css)]
            if options.get("embed-resources"):
                cmd.append("--embed-resources")
        elif name == "typst":
            partials = []
            for partial in options.get("template-partials") or []:
                resolved = folder / partial.lstrip("/")  # "/..." is project-relative
                if not resolved.is_file():
                    raise QuartoError(
                        f"Template partial {resolved} was not found. Please confirm that "
                        "the path to the file is correct.")
                partials.append(resolved)
            stage(TYPST_PARTIALS, partials, staging)
            (staging / "template.patched").write_text(TYPST_TEMPLATE, encoding="utf-8")
            cmd += ["--template", str(staging / "template.patched"),
                    "--output", str(folder / (input_path.stem + ".typ"))]
        else:
            reference = options.get("reference-doc")
            if reference and not (folder / reference).is_file():
                raise QuartoError(f"Reference document {reference} not found")
            if reference:
                cmd += ["--reference-doc", str(folder / reference)]
            cmd += ["--output", str(out)]
        log(flags["quiet"], f"pandoc\n  to: {name}\n  output-file: {out.name}\n")
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=folder, check=False)
        if proc.stderr.strip():
            log(flags["quiet"], proc.stderr.rstrip())
        if proc.returncode != 0:
            raise QuartoError(f"pandoc exited with code {proc.returncode}")
        if name == "typst":
            import typst

            log(flags["quiet"], f"[typst]: Compiling {input_path.stem}.typ to {out.name}...")
            fonts = [str(folder / f) for f in options.get("font-paths") or []]
            typ = folder / (input_path.stem + ".typ")  # beside the input, as Quarto writes it
            try:
                typst.compile(str(typ), output=str(out), root=str(folder), font_paths=fonts)
            except Exception as exc:  # typst.TypstError
                log(flags["quiet"], f"error: {getattr(exc, 'message', None) or exc}")
                raise QuartoError("Typst compilation failed") from exc
            finally:
                if not options.get("keep-typ"):
                    typ.unlink(missing_ok=True)
    rendered.append(name)
    return out


def add_format_links(html: Path, meta: dict[str, Any], outputs: dict[str, Path]) -> None:
    options = (meta.get("format") or {}).get("html") or {}
    if not isinstance(options, dict):
        options = {}
    if options.get("format-links") is False or options.get("minimal") or \
            options.get("theme") == "none":
        return
    others = [p for n, p in outputs.items() if n != "html"]
    if not others:
        return
    items = "".join(f'<li><a href="{p.name}">{p.suffix[1:].upper()}</a></li>' for p in others)
    page = html.read_text(encoding="utf-8")
    nav = f'<nav class="quarto-alternate-formats"><h2>Other Formats</h2><ul>{items}</ul></nav>'
    html.write_text(page.replace("</body>", nav + "</body>"), encoding="utf-8")


def main(argv: list[str]) -> int:
    quiet = "--quiet" in argv or "--q" in argv
    try:
        flags = parse_flags(argv)
        if flags["input"] is None or not Path(flags["input"]).is_file():
            raise QuartoError(f"No valid input files passed to render ({flags['input']})")
        input_path = Path(flags["input"]).resolve()
        front, markdown = notebook_markdown(input_path)
        meta = {**front, **flags["metadata"]}
        targets = flags["to"] or list((front.get("format") or {"html": None}).keys())
        outputs: dict[str, Path] = {}
        rendered: list[str] = []
        for name in targets:
            if name not in EXTENSIONS:
                raise QuartoError(f"Unknown format {name}")
            outputs[name] = render_format(name, input_path, meta, markdown, flags, rendered)
        if "html" in outputs:
            add_format_links(outputs["html"], meta, outputs)
        for out in outputs.values():
            log(quiet, f"Output created: {out.name}")
        return 0
    except QuartoError as exc:
        log(quiet, f"ERROR: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
