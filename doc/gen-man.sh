#!/bin/sh
# Regenerates the roff man pages from their Markdown sources with pandoc:
#   doc/mgr.1.md -> doc/mgr.1, doc/mgr.unit.5.md -> doc/mgr.unit.5, doc/mgr-daemon.8.md -> doc/mgr-daemon.8
# Usage: doc/gen-man.sh [OUTDIR]   (default: doc/, next to the sources; the pages are committed)
# pandoc is not a build dependency: install it (apt-get install pandoc) to edit the pages.
set -eu
src=$(cd "$(dirname "$0")" && pwd)
out=${1:-$src}
command -v pandoc >/dev/null || { echo "gen-man.sh: pandoc is not installed (apt-get install pandoc)" >&2; exit 1; }
mkdir -p "$out"
for md in mgr.1.md mgr.unit.5.md mgr-daemon.8.md; do
    # -smart keeps "--option" as two hyphens; the title line gives name, section, footer.
    pandoc --standalone --from markdown-smart --to man "$src/$md" -o "$out/${md%.md}"
done
