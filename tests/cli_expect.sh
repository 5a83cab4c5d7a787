#!/bin/sh
# Runs a command and checks both its exit code and its output (stdout and stderr together), so that
# a CLI test cannot pass on its text alone:
#   cli_expect.sh RC [--match REGEX]... [--not REGEX]... -- COMMAND [ARGS...]
# Every --match must match some line (grep -E), no --not may match any; prints the output.
set -u
want=$1
shift
matches=""
nots=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  case "$1" in
    --match) matches="$matches
$2"; shift 2 ;;
    --not) nots="$nots
$2"; shift 2 ;;
    *) echo "cli_expect.sh: unknown flag $1" >&2; exit 64 ;;
  esac
done
[ $# -gt 0 ] && shift
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
status=0
if [ "$rc" -ne "$want" ]; then
  echo "cli_expect.sh: exit code $rc, expected $want" >&2
  status=1
fi
old_ifs=$IFS
IFS='
'
for regex in $matches; do
  printf '%s\n' "$out" | grep -Eq -- "$regex" || { echo "cli_expect.sh: no line matches: $regex" >&2; status=1; }
done
for regex in $nots; do
  printf '%s\n' "$out" | grep -Eq -- "$regex" && { echo "cli_expect.sh: a line matches: $regex" >&2; status=1; }
done
IFS=$old_ifs
exit $status
