#!/bin/sh
# STYLE.md B6: these libc functions are banned in src/ (unbounded copies,
# unchecked formatting, hidden state); the bounded helpers in core/str.h
# replace them. Prints offenders and fails if there are any.
cd "$(dirname "$0")/.." || exit 1
found=$(grep -rnE '(^|[^_a-zA-Z0-9])(strcpy|strcat|sprintf|vsprintf|strncpy|gets|strtok|atoi)[[:space:]]*\(' \
	src --include='*.c' --include='*.h' | grep -vE '^\S+:[0-9]+:\s*(\*|/\*)')
if [ -n "$found" ]; then
	echo "banned functions in src/:"
	echo "$found"
	exit 1
fi
echo "no banned functions in src/"
