--[[
Pandoc Lua filter: write the briefing's other formats from the same parse
(analysis/pipeline/render.py, the pandoc + Typst renderer).

pandoc runs once per document: it reads the Markdown, this filter writes the
extra formats (Typst markup, a Word file) from the document it was given,
and pandoc then goes on to write its own output format (the HTML page, with
--embed-resources) as usual. Parsing the Markdown once instead of once per
format is most of the saving; starting pandoc and Lua once is the rest.

Each extra format is written as `pandoc --to <format>` would write it from
the same Markdown: the house filter (briefing.lua) is run afresh with FORMAT
set to that format, the mediabag is filled for Word only (pandoc fills it
for docx, for the images and fallback PNGs), and the writer gets the
options the command line would have given it (pandoc 3.9's App.hs and
App/OutputSettings.hs). tests/test_render.py compares the files with those of
one pandoc run per format, byte for byte.

A format that needs what a filter cannot do is left to a run of its own: Word
with SVG images (the command line adds PNG fallbacks for them); this filter
then writes "@@briefing-separate-run docx" to stderr instead of the file.

The outputs to write come as JSON in the environment variable
BRIEFING_OUTPUTS (render.py sets it): the house filter's path and a list of
{format, path, template?, reference_doc?, wrap, outputfile}.
]]

local spec = pandoc.json.decode(os.getenv("BRIEFING_OUTPUTS") or "{}", false)

-- The house filter's passes as `pandoc --to <format> --lua-filter` runs them:
-- the file is loaded afresh, with FORMAT set, in its own environment.
local function house_filters(format)
  local env = setmetatable({ FORMAT = format }, { __index = _G })
  local chunk = assert(loadfile(spec.filter, "t", env))
  local filters = chunk()
  if filters == nil then
    return { env }
  end
  if #filters == 0 then
    return { filters }
  end
  return filters
end

local function read_file(path)
  local handle = assert(io.open(path, "rb"))
  local text = handle:read("a")
  handle:close()
  return text
end

local function write_file(path, contents)
  local handle = assert(io.open(path, "wb"))
  handle:write(contents)
  handle:close()
end

-- The variables the pandoc command line sets for every output (its
-- OutputSettings): the input came on stdin.
local function variables(out)
  return {
    sourcefile = { "-" },
    outputfile = out.outputfile,
    ["pandoc-version"] = tostring(PANDOC_VERSION),
    curdir = pandoc.system.get_working_directory(),
  }
end

local function write_output(doc, out)
  for _, filter in ipairs(house_filters(out.format)) do
    doc = doc:walk(filter)
  end
  local template
  if out.template then
    template = pandoc.template.compile(read_file(out.template), out.template)
  else
    template = pandoc.template.compile(pandoc.template.default(out.format))
  end
  local options = {
    template = template,
    variables = variables(out),
    wrap_text = out.wrap,
  }
  if out.reference_doc then
    options.reference_doc = out.reference_doc
  end
  if out.format == "docx" then
    doc = pandoc.mediabag.fill(doc)
    for _, item in ipairs(pandoc.mediabag.list()) do
      if (item.type or ""):match("^image/svg%+xml") then
        -- The command line would add PNG fallbacks; render.py runs it instead.
        pandoc.mediabag.empty()
        io.stderr:write("@@briefing-separate-run " .. out.format .. "\n")
        return
      end
    end
  end
  write_file(out.path, pandoc.write(doc, out.format, options))
  -- pandoc's own output starts, as it would alone, with an empty mediabag.
  pandoc.mediabag.empty()
end

-- An explicit filter, no global functions: all filters of a pandoc run share
-- one Lua state, and a global Pandoc() would be seen by the house filter's run.
return {
  {
    Pandoc = function(doc)
      for _, out in ipairs(spec.outputs or {}) do
        write_output(doc, out)
      end
      return nil -- pandoc's own format is written from the document as it was read
    end,
  },
}
