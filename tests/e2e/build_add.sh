#!/bin/bash
# ADD of local archives end to end: plain tar and tar compressed with gzip,
# bzip2, xz or zstd are unpacked, told by their content and never by their
# name; other files (a gzip that holds no tar, a text file named .tar.gz)
# are copied as they are; --chown owns what an archive holds; --unpack=false
# copies it; nothing in an archive lands outside the destination. ADD of a
# git repository over git's dumb HTTP protocol (busybox httpd on 127.0.0.1):
# HEAD, a tag, a branch with a subdirectory, --keep-git-dir, --chown,
# a commit id, the cache keyed by the commit.
. "$(dirname "$0")/lib.bash"
# For _pick_port and _wait_listen (its EXIT trap is replaced by build_base's).
. "$(dirname "$0")/registry.bash"
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

# --- ADD of a git repository, served by busybox httpd (dumb HTTP) ---
if command -v git >/dev/null; then
	G=$TMP/git
	mkdir -p "$G/work" "$G/www"
	gitq() { git -C "$G/work" -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main "$@" >/dev/null 2>&1; }
	gitq init -b main .
	mkdir -p "$G/work/sub"
	echo one >"$G/work/a.txt"; echo sub >"$G/work/sub/b.txt"
	printf '#!/bin/sh\necho run\n' >"$G/work/run.sh"; chmod 755 "$G/work/run.sh"
	ln -s a.txt "$G/work/link"
	gitq add -A && gitq commit -q -m one && gitq tag -a v1 -m v1
	echo two >"$G/work/a.txt"
	gitq commit -q -am two
	gitq checkout -q -b feature && echo feat >"$G/work/sub/feature.txt" && gitq add -A &&
		gitq commit -q -m feat && gitq checkout -q main
	v1=$(git -C "$G/work" rev-parse v1^{commit})
	publish() { rm -rf "$G/www/repo.git" && git clone -q --bare "$G/work" "$G/www/repo.git" &&
		git -C "$G/www/repo.git" update-server-info; }
	publish
	_pick_port
	GPORT=$FREE_PORT
	busybox httpd -f -p "127.0.0.1:$GPORT" -h "$G/www" &
	GHTTPD=$!
	ON_EXIT+=("kill $GHTTPD 2>/dev/null")
	_wait_listen "$GHTTPD" "$GPORT" || not_ok "busybox httpd on 127.0.0.1:$GPORT"
	R=http://127.0.0.1:$GPORT/repo.git
	DFG="FROM bb:1
ADD $R#v1 /v1
ADD $R#feature:sub /feat/
ADD --keep-git-dir=true $R#v1 /kept/
ADD $R#$v1 /pinned/
ADD --chown=app $R#main /owned/
ADD $R /src/
"
	build git:1 "$DFG" >/dev/null || diag <"$TMP/log"
	expect_eq "ADD <repo>.git: HEAD's tree, without .git; modes and symlinks as in git; owned by root" \
		"$(run git:1 sh -c 'cd /src && find . | sort; cat a.txt; readlink link; stat -c "%a %u:%g" run.sh a.txt')" ".
./a.txt
./link
./run.sh
./sub
./sub/b.txt
two
a.txt
755 0:0
644 0:0"
	expect_eq "  #tag" "$(run git:1 cat /v1/a.txt)" one
	expect_eq "  #branch:subdir takes that directory's contents" "$(run git:1 ls /feat)" "b.txt
feature.txt"
	expect_eq "  --keep-git-dir=true keeps .git" \
		"$(run git:1 sh -c 'test -d /kept/.git && echo kept')" kept
	expect_eq "  --chown owns the checkout" "$(run git:1 stat -c %u:%g /owned/sub/b.txt)" 1000:1000
	expect_eq "  #<commit id>" "$(run git:1 cat /pinned/a.txt)" one
	build git:2 "$DFG" >/dev/null
	expect_eq "a rebuild asks git for the refs and hits the cache" "$(grep -c CACHED "$TMP/log")" 6
	echo three >"$G/work/a.txt" && gitq commit -q -am three && publish
	build git:3 "$DFG" >/dev/null
	expect_eq "a new commit on the branch misses only the ADDs that follow it" \
		"$(grep -c CACHED "$TMP/log"):$(run git:3 cat /src/a.txt)" "4:three"
	check "  saying why" grep -q "cache miss: the git ref is now commit" "$TMP/log"
	build git:4 "FROM bb:1
ADD --checksum=sha256:$(printf %064d 0) $R#v1 /x/" >/dev/null; rc=$?
	check "--checksum on a git source fails, saying to pin a commit" grep -q "URL#<commit>" "$TMP/log"
	build git:5 "FROM bb:1
ADD $R#nosuchref /x/" >/dev/null; rc=$?
	check "a ref the repository lacks fails, naming it" grep -q "has no ref 'nosuchref'" "$TMP/log"
	build git:6 "FROM bb:1
ADD git@127.0.0.1:nosuch/repo.git /x/" >/dev/null; rc=$?
	check "a git@ source goes to git over ssh (no server here: git's error)" \
		grep -q "git@127.0.0.1:nosuch/repo.git: git ls-remote failed" "$TMP/log"
	kill "$GHTTPD"; wait "$GHTTPD" 2>/dev/null
else
	skip "ADD of a git repository" "git is not installed"
fi

expect_eq "nothing is left mounted under the test directory" \
	"$(grep -F " $TMP" /proc/self/mountinfo)" ""
done_testing
