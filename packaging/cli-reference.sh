#!/usr/bin/env bash
# Prints the README's CLI reference from the programs' own --help, so it cannot drift from them.
# Usage: cli-reference.sh BINDIR        (BINDIR holds the shaperd and shaperctl executables)
#        cli-reference.sh BINDIR --write (replaces the section between the markers in README.md)
set -euo pipefail
bin=$1
commands=("shaperd" "shaperctl" "shaperctl status" "shaperctl rules validate" "shaperctl rules list"
          "shaperctl rules show" "shaperctl rules apply" "shaperctl rules diff" "shaperctl reload"
          "shaperctl counters" "shaperctl block add" "shaperctl block del" "shaperctl block list"
          "shaperctl fleet status" "shaperctl fleet breaker"
          "shaperctl replay")
render() {
    for command in "${commands[@]}"; do
        read -r program rest <<<"$command"
        echo "### \`$command\`"
        echo
        echo '```'
        # shellcheck disable=SC2086
        "$bin/$program" $rest --help | sed -e 's/[[:space:]]*$//'
        echo '```'
        echo
    done
}
if [ "${2:-}" = "--write" ]; then
    readme="$(dirname "$0")/../README.md"
    section=$(render)
    python3 - "$readme" "$section" <<'PY'
import sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
begin, end = "<!-- cli:begin -->\n", "<!-- cli:end -->"
head, rest = text.split(begin, 1)
tail = rest.split(end, 1)[1]
open(path, "w").write(head + begin + section + "\n" + end + tail)
PY
else
    render
fi
