mkdir -p src/sub; chmod 0750 src
echo a > src/a; echo b > src/sub/b
tar -C src --owner=0 --group=0 --numeric-owner -cf dotslash.tar .
rm -rf src
