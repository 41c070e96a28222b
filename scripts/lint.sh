#!/bin/sh
# Checks formatting (clang-format, .clang-format) and the functions banned by
# docs/CONVENTIONS (sprintf, strcpy, strcat, atoi, strtok, system, popen,
# gets). `--fix` reformats instead of checking formatting.
set -eu
cd "$(dirname "$0")/.."

files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h')
[ -n "$files" ] || { echo "lint: no C files found" >&2; exit 1; }
status=0

if [ "${1:-}" = "--fix" ]; then
	# shellcheck disable=SC2086
	clang-format -i $files
	exit 0
fi

# shellcheck disable=SC2086
if ! clang-format --dry-run --Werror $files 2>/tmp/cordon-format.$$; then
	head -40 /tmp/cordon-format.$$ >&2
	echo "lint: formatting differs from .clang-format (run 'make format')" >&2
	status=1
fi
rm -f /tmp/cordon-format.$$

# A banned call is the name followed by '(' and not preceded by an
# identifier character, '.' or '>' (so snprintf, vsnprintf, strtok_r pass).
banned='(^|[^A-Za-z0-9_.>])(sprintf|vsprintf|strcpy|strcat|atoi|atol|strtok|system|popen|gets)[[:space:]]*\('
# shellcheck disable=SC2086
if grep -nE "$banned" $files | grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)' ; then
	echo "lint: banned function used (see docs/conventions in CONVENTIONS.md)" >&2
	status=1
fi
# A cleanup_* variable without an initializer is freed or closed on every
# return, including the early ones before the code that sets it: a GET with
# a bad limit once crashed cordond that way (stack garbage freed).
# shellcheck disable=SC2086
if grep -nE 'cleanup_(buf|free|close|fclose)[[:space:]][^=;(]*;' $files; then
	echo "lint: a cleanup_* variable needs an initializer (= { 0 }, = NULL, = -1)" >&2
	status=1
fi
exit $status
