#!/bin/sh
# Generate vmsim(1) from the program's own help: `vmsim --help` for the list
# of commands, `vmsim COMMAND --help` for each command, whose option lists
# come from the commands' option tables (src/cli/cmd_*.c, cli.h). Run at
# build time (CMakeLists.txt); tests/test_conventions.c checks that every
# option of the tables is in the page.
# usage: manpage.sh VMSIM VERSION [OUT]   (default: standard output)
set -e
vmsim=$1
version=$2
if [ -n "$3" ]; then
    exec > "$3.tmp"
fi

# Help text as roff: preformatted, backslashes and hyphens escaped, a line
# that starts with . or ' protected.
roff() {
    sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\([.']\)/\\\\\&\1/"
}

commands=$("$vmsim" --help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p')

cat <<HEAD
.TH VMSIM 1 "" "vmsim $version" "User Commands"
.SH NAME
vmsim \- simulate virtual\-memory address translation
.SH SYNOPSIS
.B vmsim
.I COMMAND
.RI [ OPTIONS ]
.br
.B vmsim help
.I COMMAND
.br
.B vmsim \-\-version
.SH DESCRIPTION
.nf
HEAD
"$vmsim" --help | roff
echo ".fi"
echo ".SH COMMANDS"
for c in $commands; do
    echo ".SS vmsim $c"
    echo ".nf"
    "$vmsim" "$c" --help | roff
    echo ".fi"
done
cat <<TAIL
.SH EXIT STATUS
0 on success, 1 when a run failed, 2 for a usage error, 128 + N after signal N
(130 after Ctrl\-C); \fBvmsim record\fR exits with the recorded command's status.
.SH FILES
The documentation (docs/ in the source tree) defines every statistic, option and format.
.SH SEE ALSO
.BR valgrind (1),
.BR gnuplot (1)
TAIL
if [ -n "$3" ]; then
    mv "$3.tmp" "$3"
fi
