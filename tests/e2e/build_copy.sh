#!/bin/bash
# COPY's wildcards end to end, BuildKit's two kinds: plain sources match
# Go's filepath.Match one name at a time (`**` is just `*` there), while
# --parents sources are include patterns below a pivot (`/./`, else the
# context root) with .dockerignore syntax, so `**` crosses directories; what
# they select keeps its path, with its directories made from the source's
# (mode, owner, --chmod), symlinks copied as links.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/build_base.bash"

P=$TMP/ctx
mkdir -p "$P/x/a/b" "$P/y/sub/deep" "$P/docs" "$P/skip/me"
echo f >"$P/x/a/b/f.txt"
echo h >"$P/x/a/h.txt"
echo m >"$P/x/a/m.md"
echo g >"$P/y/g.txt"
echo k >"$P/y/sub/deep/k.txt"
echo t >"$P/top.txt"
echo r >"$P/docs/readme.md"
echo s >"$P/skip/me/s.txt"
ln -s x/a "$P/linkdir"
ln -s ../top.txt "$P/y/link.txt"
chmod 700 "$P/x/a"
chmod 750 "$P/y/sub"
printf 'skip\n' >"$P/.dockerignore"

# files NAME DIR: every path below DIR in the image, with type and mode.
files() { run "$1" sh -c "cd $2 && find . -mindepth 1 | sort | while read -r f; do echo \"\$f \$(stat -c '%F %a %u' \"\$f\")\"; done"; }

cbuild "$P" par:1 $'FROM bb:1\nCOPY --parents **/*.txt /p/' >/dev/null || diag <"$TMP/log"
expect_eq "--parents **/*.txt: every .txt at any depth, root included, with its directories" \
	"$(files par:1 /p)" "./top.txt regular file 644 0
./x directory 755 0
./x/a directory 700 0
./x/a/b directory 755 0
./x/a/b/f.txt regular file 644 0
./x/a/h.txt regular file 644 0
./y directory 755 0
./y/g.txt regular file 644 0
./y/link.txt symbolic link 777 0
./y/sub directory 750 0
./y/sub/deep directory 755 0
./y/sub/deep/k.txt regular file 644 0"
check "  a matched symlink is copied as a link" test "$(run par:1 readlink /p/y/link.txt)" = ../top.txt
check "  a symlinked directory is not walked, .dockerignore'd paths are left out" \
	test "$(run par:1 sh -c 'test -e /p/linkdir || test -e /p/skip; echo $?')" = 1

cbuild "$P" par:2 $'FROM bb:1
COPY --parents x/**/f.txt /p1/
COPY --parents ./x/./**/*.txt /p2/
COPY --parents y/sub /p3/
COPY --parents --chmod=751 y/sub/deep/*.txt /p4
COPY --parents --exclude=a/*.md x/./a /p5/
COPY --parents y/*/deep /p6/' >/dev/null || diag <"$TMP/log"
expect_eq "--parents x/**/f.txt: ** in the middle spans a/b" \
	"$(run par:2 find /p1 -type f)" "/p1/x/a/b/f.txt"
expect_eq "--parents ./x/./**/*.txt: kept below the /./ pivot" \
	"$(run par:2 sh -c 'cd /p2 && find . -type f | sort')" "./a/b/f.txt
./a/h.txt"
expect_eq "--parents of a directory copies it whole, as itself" \
	"$(files par:2 /p3)" "./y directory 755 0
./y/sub directory 750 0
./y/sub/deep directory 755 0
./y/sub/deep/k.txt regular file 644 0"
expect_eq "--parents --chmod applies to the directories it makes too; dest without a slash" \
	"$(files par:2 /p4)" "./y directory 751 0
./y/sub directory 751 0
./y/sub/deep directory 751 0
./y/sub/deep/k.txt regular file 751 0"
expect_eq "--parents --exclude is matched below the pivot" \
	"$(run par:2 sh -c 'cd /p5 && find . | sort')" ".
./a
./a/b
./a/b/f.txt
./a/h.txt"
expect_eq "--parents y/*/deep: * is one name" "$(run par:2 find /p6 -type f)" "/p6/y/sub/deep/k.txt"

cbuild "$P" par:3 $'FROM bb:1\nCOPY --parents nothere/*.txt /n/\nRUN ls -a /n > /list' >/dev/null ||
	diag <"$TMP/log"
expect_eq "a --parents wildcard that matches nothing copies nothing (dest is made)" \
	"$(run par:3 cat /list)" ".
.."
cbuild "$P" par:4 $'FROM bb:1\nCOPY --parents nothere.txt /n/' >/dev/null; rc=$?
check "a --parents literal path that is missing fails (BuildKit accepts it, moby/buildkit#4900)" \
	grep -q "'nothere.txt' not found in the build context" "$TMP/log"

cbuild "$P" glob:1 $'FROM bb:1\nCOPY **/*.txt /g/\nCOPY x/*/h.txt /h/' >/dev/null || diag <"$TMP/log"
expect_eq "without --parents ** is one name, as Go's filepath.Match has it (a link followed)" \
	"$(run glob:1 sh -c 'cd /g && find . | sort; cat link.txt')" ".
./g.txt
./link.txt
t"
expect_eq "  and * matches one name in the middle" "$(run glob:1 ls /h)" h.txt

cbuild "$P" par:5 $'FROM bb:1\nCOPY --parents **/*.txt /p/' >/dev/null
expect_eq "a rebuild is cached" "$(grep -c CACHED "$TMP/log")" 1
echo g2 >"$P/y/g.txt"
cbuild "$P" par:6 $'FROM bb:1\nCOPY --parents **/*.txt /p/' >/dev/null
check "a changed file that ** selects misses, naming it" grep -q "cache miss: file y/g.txt changed" "$TMP/log"
echo new >"$P/x/new.txt"
cbuild "$P" par:7 $'FROM bb:1\nCOPY --parents **/*.txt /p/' >/dev/null
expect_eq "a new file ** selects misses too, and is copied" "$(grep -c CACHED "$TMP/log"):$(run par:7 cat /p/x/new.txt)" "0:new"

# Sources in the order written: where two land on the same path, the later wins.
mkdir -p "$TMP/ord/one" "$TMP/ord/two"
echo first >"$TMP/ord/one/f"; echo second >"$TMP/ord/two/f"
cbuild "$TMP/ord" ord:1 $'FROM bb:1\nCOPY two/ one/ /x/\nCOPY one/ two/ /y/' >/dev/null || diag <"$TMP/log"
expect_eq "COPY takes its sources in the order written (the later wins)" \
	"$(run ord:1 cat /x/f /y/f)" "first
second"
# WORKDIR is made as the USER (BuildKit's mkdir WithUser), parents too;
# directories the image has keep their owner.
build wd:1 $'FROM bb:1\nUSER app\nWORKDIR /home/app/w\nUSER 1234\nWORKDIR /tmp/n/m' >/dev/null || diag <"$TMP/log"
expect_eq "WORKDIR is made as the USER, missing parents too; existing ones keep theirs" \
	"$(run wd:1 stat -c '%n %u:%g %a' /home /home/app /home/app/w /tmp /tmp/n /tmp/n/m)" \
	"/home 1000:1000 755
/home/app 1000:1000 755
/home/app/w 1000:1000 755
/tmp 0:0 1777
/tmp/n 1234:1234 755
/tmp/n/m 1234:1234 755"

expect_eq "nothing is left mounted under the test directory" \
	"$(grep -F " $TMP" /proc/self/mountinfo)" ""
done_testing
