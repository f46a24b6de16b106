echo inside > inside.txt
ln -s /inside.txt abs-inside
ln -s ../../../../inside.txt climbing
mkdir dir
ln -s ../../../../etc/hostname dir/up
ln -s /etc/passwd dir/abs
