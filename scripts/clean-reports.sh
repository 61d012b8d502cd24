#!/usr/bin/env bash
# `make clean-reports`: empty the reports folder, refusing anything that may not be one.
#
# Usage: scripts/clean-reports.sh FOLDER [DEFAULT]
# The folder is emptied only when it is the default (`reports` in the project)
# or holds the build's marker file `.wellbeing-reports`; an empty name, `/`,
# the home folder, the project itself or any of their parents is refused, and
# so is a folder that does not look like the build's. Paths with spaces work.
set -euo pipefail

dir="${1-}"
default="${2-reports}"
marker=".wellbeing-reports"

refuse() { echo "clean-reports: $1; nothing deleted." >&2; exit 1; }

[ -n "$dir" ] || refuse "REPORTS_DIR is empty (give the reports folder: REPORTS_DIR=path)"
[ -e "$dir" ] || { echo "clean-reports: $dir does not exist; nothing to delete."; exit 0; }
[ -d "$dir" ] || refuse "$dir is not a folder"
[ ! -L "$dir" ] || refuse "$dir is a symbolic link (give the folder itself)"

real="$(cd -- "$dir" && pwd -P)"
project="$(pwd -P)"
for protected in / "$HOME" "$project" /tmp /work /home /root /usr /etc /var; do
  [ -n "$protected" ] || continue
  p="$(cd -- "$protected" 2>/dev/null && pwd -P || echo "$protected")"
  case "$p/" in
    "$real"/*) refuse "$dir is $protected or a folder above it" ;;
  esac
done

default_real="$(cd -- "$default" 2>/dev/null && pwd -P || true)"
if [ ! -f "$real/$marker" ] && [ "$real" != "$default_real" ]; then
  refuse "$dir has no $marker file, so it is not a folder \`make reports\` wrote (delete it by hand if it is)"
fi

find "$real" -mindepth 1 -maxdepth 1 ! -name "$marker" -exec rm -rf -- {} +
echo "clean-reports: emptied $dir"
