#!/usr/bin/env bash
# Try to make Quarto available; where it cannot be, say so in one line and
# carry on: briefings then render through pandoc + Typst (same notebooks).
venv="${1:-.venv}"
if command -v quarto >/dev/null 2>&1; then
  echo "Quarto $(quarto --version 2>/dev/null) found: briefings render with Quarto."
  exit 0
fi
if [ -x "$venv/bin/quarto" ] && "$venv/bin/quarto" --version >/dev/null 2>&1; then
  echo "Quarto $("$venv/bin/quarto" --version) found in $venv: briefings render with Quarto."
  exit 0
fi
# The quarto-cli package fetches Quarto's own binaries when installed; that
# needs a network this machine may not have. Bounded so setup never hangs.
if timeout 300 "$venv/bin/python" -m pip install --quiet quarto-cli >/dev/null 2>&1 \
   && "$venv/bin/quarto" --version >/dev/null 2>&1; then
  echo "Quarto $("$venv/bin/quarto" --version) installed: briefings render with Quarto."
else
  "$venv/bin/python" -m pip uninstall --quiet --yes quarto-cli >/dev/null 2>&1 || true
  echo "Quarto could not be installed here (conda users: see environment.yml); briefings render through pandoc + Typst instead."
fi
exit 0
