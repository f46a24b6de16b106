: > empty
i=0; while [ $i -lt 20000 ]; do echo "line $i of a bigger file"; i=$((i+1)); done > big
