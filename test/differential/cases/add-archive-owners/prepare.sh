mkdir -p src/d
echo a > src/d/a; echo b > src/b; chmod 4755 src/b; chmod 2750 src/d
tar -C src --owner=1234 --group=5678 --numeric-owner -cf owned.tar d b
rm -rf src
