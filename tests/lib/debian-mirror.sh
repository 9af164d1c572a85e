#!/usr/bin/env bash
# Prints the Debian archive URI this machine's apt is configured with (deb822 .sources or
# one-line sources.list), so debootstrap uses the same mirror as apt-get and nothing else.
set -eu
for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '/^URIs:/ {u=$2} /^Suites:/ {for (i = 2; i <= NF; i++) if ($i == "bookworm") s=1}
         /^$/ {if (u != "" && s) {print u; exit} u=""; s=0}
         END {if (u != "" && s) print u}' "$f" | head -n 1 | grep . && exit 0
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' "$f" | grep . && exit 0
done
echo "no Debian bookworm archive configured in apt sources" >&2
exit 1
