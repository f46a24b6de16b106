mkdir -p links/real
echo target > links/real/t.txt
ln -s real/t.txt links/rel-link
ln -s /etc/absolute links/abs-link
ln -s missing links/dangling
ln -s real links/dir-link
echo file > file.txt
ln -s file.txt link-to-file
ln -s links/real dirlink
