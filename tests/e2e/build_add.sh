#!/bin/bash
# ADD of local archives end to end: plain tar and tar compressed with gzip,
# bzip2, xz or zstd are unpacked, told by their content and never by their
# name; other files (a gzip that holds no tar, a text file named .tar.gz)
# are copied as they are; --chown owns what an archive holds; --unpack=false
# copies it; nothing in an archive lands outside the destination.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/build_base.bash"
for t in tar gzip bzip2 xz zstd; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t is not installed"; exit 0; }
done

A=$TMP/arch
mkdir -p "$A/t/sub" "$A/ctx"
echo inner >"$A/t/sub/f"
echo top >"$A/t/top"
ln -s sub/f "$A/t/link"
chmod 750 "$A/t/sub"
mk() { (cd "$A/t" && tar --owner=123 --group=456 -cf - .); }
mk | gzip >"$A/ctx/a.tgz"
mk | bzip2 >"$A/ctx/b.tar.bz2"
mk | xz >"$A/ctx/c.tar.xz"
mk | zstd -q >"$A/ctx/d.tar.zst"
mk >"$A/ctx/e.tar"
# Named for something else: the content decides.
mk | bzip2 >"$A/ctx/bz-data.txt"
mk | xz >"$A/ctx/xz-data"
# Compressed, but no tar inside; a tar name, but text inside.
echo "just text" | gzip >"$A/ctx/text.gz"
echo "just text" | bzip2 >"$A/ctx/text.bz2"
echo "just text" | xz >"$A/ctx/text.xz"
echo "not an archive" >"$A/ctx/fake.tar.gz"

DF='FROM bb:1
ADD a.tgz /gz
ADD b.tar.bz2 /bz2
ADD c.tar.xz /xz
ADD d.tar.zst /zst
ADD e.tar /plain
ADD bz-data.txt xz-data /named/
ADD text.gz text.bz2 text.xz fake.tar.gz /files/
'
tree() { run "$1" sh -c "cd $2 && find . | sort | tr '\n' ' '; cat sub/f top; readlink link; stat -c '%u:%g %a' sub sub/f"; }
WANT='. ./link ./sub ./sub/f ./top inner
top
sub/f
123:456 750
123:456 644'
cbuild "$A/ctx" arch:1 "$DF" >/dev/null || diag <"$TMP/log"
expect_eq "ADD unpacks a gzip tar (owners, modes, symlinks kept)" "$(tree arch:1 /gz)" "$WANT"
expect_eq "ADD unpacks a bzip2 tar" "$(tree arch:1 /bz2)" "$WANT"
expect_eq "ADD unpacks an xz tar" "$(tree arch:1 /xz)" "$WANT"
expect_eq "ADD unpacks a zstd tar" "$(tree arch:1 /zst)" "$WANT"
expect_eq "ADD unpacks a plain tar" "$(tree arch:1 /plain)" "$WANT"
expect_eq "archives are told by content, not by name (.txt bzip2, xz without suffix)" \
	"$(run arch:1 sh -c 'cd /named && find . -type f | sort')" "./sub/f
./top"
expect_eq "compressed files without a tar inside, and a text named .tar.gz, are copied as they are" \
	"$(run arch:1 sh -c 'cd /files && ls; cat fake.tar.gz')" "fake.tar.gz
text.bz2
text.gz
text.xz
not an archive"
expect_eq "  byte for byte" "$(run arch:1 sha256sum /files/text.xz | cut -c1-64)" \
	"$(sha256sum <"$A/ctx/text.xz" | cut -c1-64)"
cbuild "$A/ctx" arch:2 "$DF" >/dev/null
expect_eq "a rebuild is fully cached" "$(grep -c CACHED "$TMP/log")" 7

cbuild "$A/ctx" own:1 $'FROM bb:1\nADD --chown=app:app b.tar.bz2 /o\nADD c.tar.xz /tmp/' >/dev/null ||
	diag <"$TMP/log"
expect_eq "ADD --chown owns what the archive holds" \
	"$(run own:1 sh -c 'find /o -exec stat -c "%n %u:%g %a" {} + | sort')" "/o 1000:1000 755
/o/link 1000:1000 777
/o/sub 1000:1000 750
/o/sub/f 1000:1000 644
/o/top 1000:1000 644"
expect_eq "an archive into an existing directory keeps that directory's mode (/tmp 1777)" \
	"$(run own:1 stat -c %a /tmp)" 1777
cbuild "$A/ctx" nounpack:1 $'FROM bb:1\nADD --unpack=false a.tgz /k/' >/dev/null || diag <"$TMP/log"
expect_eq "ADD --unpack=false copies the archive" "$(run nounpack:1 ls /k)" a.tgz
expect_eq "COPY never unpacks" \
	"$(cbuild "$A/ctx" copy:1 $'FROM bb:1\nCOPY b.tar.bz2 /c/' >/dev/null; run copy:1 ls /c)" b.tar.bz2

# Nothing escapes: an entry that climbs out with ".." is refused.
mkdir -p "$A/evil/in"
echo out >"$A/evil/escape.txt"
(cd "$A/evil/in" && tar -P -cf - ../escape.txt | xz >"$A/ctx/evil.tar.xz")
cbuild "$A/ctx" evil:1 $'FROM bb:1\nADD evil.tar.xz /deep/dir/' >/dev/null; rc=$?
check "an archive entry that climbs out of the destination fails the build" test "$rc" -ne 0
check "  naming the entry" grep -q "escape.txt" "$TMP/log"
check "  and makes no image" untagged evil:1

expect_eq "nothing is left mounted under the test directory" \
	"$(grep -F " $TMP" /proc/self/mountinfo)" ""
done_testing
