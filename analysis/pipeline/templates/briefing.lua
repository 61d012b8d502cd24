--[[
Pandoc Lua filter for the briefing fallback renderer (analysis/render.py).

Quarto normally handles these notebook conventions; without Quarto this
filter reproduces the parts the briefings rely on, for every output format:

1. Raw HTML blocks (notebook text/html outputs, e.g. pandas tables) are
   parsed into pandoc tables, so they reach the PDF and Word outputs too
   (raw HTML would be dropped there) and lose the inline <style>/ids that
   pandas emits.
2. Quarto's `fig-alt` image attribute becomes the image's alt text (the
   image description, which HTML and Word writers use; the figure caption
   stays separate). Typst gets `image(..., alt: "...")` written directly
   because pandoc's Typst writer has no alt support.
3. Quarto callouts (::: {.callout-note} etc.) become a styled box: a div with
   class "callout callout-<kind>" and role "note" in HTML, a `#callout(...)`
   call defined in briefing.typ for Typst, paragraphs in the "Callout Title"
   and "Callout" custom styles (defined in reference.docx) for Word.

On the pandoc route one pandoc run writes every format: briefing-outputs.lua
runs this file afresh for each extra format with FORMAT set to it. So output
may depend on FORMAT, but not on PANDOC_WRITER_OPTIONS (there it is the HTML
run's) nor on state kept between runs of the file.
]]

local KINDS = {
  note = "Note",
  important = "Important",
  tip = "Tip",
  warning = "Warning",
  caution = "Caution",
}

local function is_html()
  return FORMAT:match("html") ~= nil
end

local function is_typst()
  return FORMAT == "typst"
end

local function is_docx()
  return FORMAT == "docx"
end

-- Typst string literal (double-quoted, escaped).
local function typst_string(s)
  s = s:gsub("\\", "\\\\"):gsub('"', '\\"'):gsub("\n", " ")
  return '"' .. s .. '"'
end

-- Inlines rendered as Typst markup, for use inside [ ... ] content blocks.
local function typst_inlines(inlines)
  local text = pandoc.write(pandoc.Pandoc({ pandoc.Plain(inlines) }), "typst")
  return (text:gsub("%s+$", ""))
end

-- Typst length from a pandoc width/height attribute ("50%", "300px", "4in").
local function typst_length(value)
  if not value then
    return nil
  end
  local num, unit = value:match("^%s*([%d%.]+)%s*(%a*%%?)%s*$")
  if not num then
    return nil
  end
  if unit == "%" or unit == "cm" or unit == "mm" or unit == "in" or unit == "pt" or unit == "em" then
    return num .. unit
  end
  if unit == "" or unit == "px" then
    -- CSS pixels at 96 per inch.
    return string.format("%.2fpt", tonumber(num) * 0.75)
  end
  return nil
end

local function image_alt(img)
  return img.attributes["fig-alt"] or img.attributes["alt"] or pandoc.utils.stringify(img.caption)
end

---------------------------------------------------------------------------
-- Pass 1: raw HTML outputs -> pandoc blocks.
---------------------------------------------------------------------------
local html_pass = {
  RawBlock = function(raw)
    if raw.format ~= "html" then
      return nil
    end
    local ok, doc = pcall(pandoc.read, raw.text, "html")
    if not ok then
      return nil
    end
    -- pandas Styler gives every table and cell an id and classes; they mean
    -- nothing here and the ids would become stray Typst labels.
    return doc.blocks:walk({
      Table = function(tbl)
        tbl.attr = pandoc.Attr()
        return tbl
      end,
      Cell = function(cell)
        cell.attr = pandoc.Attr("", {}, cell.attr.attributes)
        return cell
      end,
    })
  end,
}

---------------------------------------------------------------------------
-- Passes 2 and 3: image alt text (Typst figures first, whole).
---------------------------------------------------------------------------
-- Typst resolves paths against its project root; render.py compiles with the
-- filesystem root as project root, so relative sources (relative to the
-- notebook folder, pandoc's working directory) are made absolute here.
local function typst_source(src)
  if src:match("^%a[%w+.-]*:") or pandoc.path.is_absolute(src) then
    return src
  end
  return pandoc.path.normalize(pandoc.path.join({ pandoc.system.get_working_directory(), src }))
end

-- Images come only from local files the notebook wrote (or data: URIs):
-- a URL would be fetched at build time (--embed-resources) or at view time.
local function check_image_source(src)
  local scheme = src:match("^(%a[%w+.-]*):")
  if scheme and scheme:lower() ~= "data" and #scheme > 1 then
    error("refusing to fetch an image from a URL: " .. src)
  end
end

local function typst_image(img)
  check_image_source(img.src)
  local args = { typst_string(typst_source(img.src)) }
  local alt = image_alt(img)
  if alt ~= "" then
    table.insert(args, "alt: " .. typst_string(alt))
  end
  local width = typst_length(img.attributes["width"])
  if width then
    table.insert(args, "width: " .. width)
  end
  local height = typst_length(img.attributes["height"])
  if height then
    table.insert(args, "height: " .. height)
  end
  return "image(" .. table.concat(args, ", ") .. ")"
end

local figure_pass = {
  Figure = function(fig)
    if not is_typst() then
      return nil
    end
    -- A figure holding one image: write the whole #figure so the image
    -- keeps its alt text and the caption stays a real caption.
    local blocks = fig.content
    if #blocks ~= 1 or (blocks[1].t ~= "Plain" and blocks[1].t ~= "Para") then
      return nil
    end
    local inlines = blocks[1].content
    if #inlines ~= 1 or inlines[1].t ~= "Image" then
      return nil
    end
    local img = inlines[1]
    local caption = pandoc.utils.blocks_to_inlines(fig.caption.long or {})
    local code = "#figure(" .. typst_image(img)
    if #caption > 0 then
      code = code .. ", caption: [" .. typst_inlines(caption) .. "]"
    end
    return pandoc.RawBlock("typst", code .. ")")
  end,
}

local image_pass = {
  Image = function(img)
    check_image_source(img.src)
    local alt = img.attributes["fig-alt"]
    if alt then
      -- Pandoc's writers take alt text from the image's description (its
      -- reader does the same with an `alt` attribute); the figure caption,
      -- if any, is kept separately by the enclosing Figure.
      img.attributes["fig-alt"] = nil
      img.caption = pandoc.Inlines({ pandoc.Str(alt) })
    end
    if is_typst() then
      return pandoc.RawInline("typst", "#box(" .. typst_image(img) .. ")")
    end
    return img
  end,
}

---------------------------------------------------------------------------
-- Pass 4: callouts.
---------------------------------------------------------------------------
local function callout_kind(div)
  for _, class in ipairs(div.classes) do
    local kind = class:match("^callout%-(%a+)$")
    if kind and KINDS[kind] then
      return kind
    end
  end
  return nil
end

local function split_title(div, kind)
  local body = pandoc.Blocks({})
  for _, block in ipairs(div.content) do
    body:insert(block)
  end
  local title = nil
  local attr_title = div.attributes["title"]
  if attr_title and attr_title ~= "" then
    title = pandoc.utils.blocks_to_inlines(pandoc.read(attr_title, "markdown").blocks)
  elseif #body > 0 and body[1].t == "Header" then
    title = body[1].content
    body:remove(1)
  end
  if not title or #title == 0 then
    title = pandoc.Inlines({ pandoc.Str(KINDS[kind]) })
  end
  return title, body
end

-- One callout as the briefings show it, in the output format being written.
local function render_callout(identifier, kind, title, body)
  if is_html() then
    local content = pandoc.Blocks({ pandoc.Div({ pandoc.Plain(title) }, pandoc.Attr("", { "callout-title" })) })
    content:extend(body)
    return pandoc.Div(content, pandoc.Attr(identifier, { "callout", "callout-" .. kind }, { role = "note" }))
  elseif is_typst() then
    local out = pandoc.Blocks({
      pandoc.RawBlock("typst", "#callout(kind: " .. typst_string(kind) .. ", title: [" .. typst_inlines(title) .. "])["),
    })
    out:extend(body)
    out:insert(pandoc.RawBlock("typst", "]"))
    return out
  elseif is_docx() then
    return pandoc.Blocks({
      pandoc.Div({ pandoc.Para(title) }, pandoc.Attr("", {}, { ["custom-style"] = "Callout Title" })),
      pandoc.Div(body, pandoc.Attr("", {}, { ["custom-style"] = "Callout" })),
    })
  end
  local out = pandoc.Blocks({ pandoc.Para({ pandoc.Strong(title) }) })
  out:extend(body)
  return pandoc.Div(out, pandoc.Attr(identifier, { "callout", "callout-" .. kind }))
end

local callout_pass = {
  Div = function(div)
    local kind = callout_kind(div)
    if not kind then
      return nil
    end
    local title, body = split_title(div, kind)
    return render_callout(div.identifier, kind, title, body)
  end,
}

-- The Quarto route (analysis/render.py gives this filter to every format):
-- Quarto has already parsed callouts into its own `Callout` nodes
-- (src/resources/filters/customnodes/callout.lua) and does the rest of what
-- the passes above do itself, so only callouts are rendered here, the same
-- way as on the pandoc route. Quarto's Typst callouts would also need the
-- @preview/fontawesome package from the network.
if quarto ~= nil and quarto.utils ~= nil then
  return {
    {
      Callout = function(node)
        local kind = KINDS[node.type] and node.type or "note"
        local title = node.title and quarto.utils.as_inlines(node.title) or pandoc.Inlines({})
        if #title == 0 then
          title = pandoc.Inlines({ pandoc.Str(KINDS[kind]) })
        end
        local body = quarto.utils.as_blocks(node.content or pandoc.Blocks({}))
        return render_callout(node.attr and node.attr.identifier or "", kind, title, body)
      end,
    },
  }
end

return { html_pass, figure_pass, image_pass, callout_pass }
