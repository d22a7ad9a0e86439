#!/usr/bin/env bash
# Writes shaperd(8) and shaperctl(1) from the programs' own --help, so the pages cannot drift from them.
# Usage: man.sh BINDIR MANDIR
set -euo pipefail
bin=$1
man=$2
mkdir -p "$man/man1" "$man/man8"
version=$("$bin/shaperctl" --version | cut -d+ -f1)

page() { # NAME SECTION SUMMARY COMMAND...
    local name=$1 section=$2 summary=$3; shift 3
    {
        echo ".TH ${name^^} $section \"\" \"shaper $version\" \"Shaper\""
        echo ".SH NAME"
        echo "$name \\- $summary"
        echo ".SH DESCRIPTION"
        echo ".nf"
        "$@" --help | sed 's/\\/\\\\/g; s/^\./\\\&./'
        for sub in "${SUBS[@]}"; do
            echo ""
            echo ".SH $(echo "$name $sub" | tr a-z A-Z)"
            # shellcheck disable=SC2086
            "$@" $sub --help | sed 's/\\/\\\\/g; s/^\./\\\&./'
        done
        echo ".fi"
        echo ".SH FILES"
        echo "/etc/shaper/shaper.toml, /run/shaper/shaperd.sock, /var/lib/shaper"
        echo ".SH SEE ALSO"
        echo "shaperd(8), shaperctl(1), nft(8)"
    } | gzip -9n > "$man/man$section/$name.$section.gz"
}

SUBS=()
page shaperd 8 "the Shaper daemon" "$bin/shaperd"
SUBS=("status" "rules validate" "rules list" "rules show" "rules apply" "rules diff" "reload" "counters" "block add" "block del" "block list" "replay")
page shaperctl 1 "control and offline tools for Shaper" "$bin/shaperctl"
