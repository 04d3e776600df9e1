#!/bin/sh
# Writes a C file holding FILE's bytes as `const char NAME[]` (with a
# final NUL not counted) and `const size_t NAME_len`: how the dashboard
# page is built into ferry, with nothing but POSIX od and sed.
# Usage: scripts/embed.sh NAME FILE > out.c
set -e
name=$1
file=$2
echo "/* Generated from $file by scripts/embed.sh: do not edit. */"
echo "#include <stddef.h>"
echo "extern const char ${name}[];"
echo "extern const size_t ${name}_len;"
echo "const char ${name}[] = {"
od -An -v -tx1 "$file" | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'
echo "0 };"
echo "const size_t ${name}_len = sizeof(${name}) - 1;"
