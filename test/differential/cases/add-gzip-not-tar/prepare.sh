echo "just text" > notatar; gzip -n notatar
echo "more text" > notatar.txt; gzip -n notatar.txt
