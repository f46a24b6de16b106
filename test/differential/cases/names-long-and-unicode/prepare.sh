long=$(printf 'd%.0s' $(seq 1 90))/$(printf 'f%.0s' $(seq 1 80))
mkdir -p "names/$(dirname "$long")" "names/a b"
echo long > "names/$long"
echo space > "names/a b/c d.txt"
echo unicode > "names/çà-日本.txt"
