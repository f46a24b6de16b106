mkdir -p src/keep
echo new > src/file; echo added > src/keep/added
tar -C src --owner=0 --group=0 --numeric-owner -cf over.tar file keep
rm -rf src
