mkdir -p src/d
echo a > src/d/a
tar -C src --owner=1234 --group=5678 --numeric-owner -cf owned.tar d
rm -rf src
