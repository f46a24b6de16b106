mkdir -p src/linked/inner
echo x > src/linked/inner/x
tar -C src --owner=0 --group=0 --numeric-owner -cf under-link.tar linked/inner/x
rm -rf src
