mkdir -p src/sub
echo a > src/a.txt; echo b > src/sub/b.txt; chmod 0600 src/sub/b.txt
ln -s a.txt src/link
tar -C src --owner=0 --group=0 --numeric-owner -cf plain.tar a.txt sub link
tar -C src --owner=0 --group=0 --numeric-owner -czf gz.tar.gz a.txt sub
tar -C src --owner=0 --group=0 --numeric-owner -cjf bz.tar.bz2 a.txt sub
tar -C src --owner=0 --group=0 --numeric-owner -cJf xz.tar.xz a.txt sub
rm -rf src
