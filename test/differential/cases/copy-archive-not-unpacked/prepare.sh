mkdir -p src dir
echo in-archive > src/inside
tar -C src --owner=0 --group=0 --numeric-owner -cf a.tar inside
cp a.tar dir/nested.tar
rm -rf src
