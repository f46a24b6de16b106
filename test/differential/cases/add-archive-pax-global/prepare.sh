mkdir repo
echo one > repo/one.txt; mkdir repo/dir; echo two > repo/dir/two.txt
git -C repo init -q
git -C repo add .
git -C repo -c user.name=t -c user.email=t@example.invalid commit -q -m c
# git archive writes a pax global header (the commit id) first.
git -C repo archive --format=tar -o ../git.tar HEAD
rm -rf repo
