mkdir -p modes/d700 modes/d1777
printf x > modes/exec; chmod 0755 modes/exec
printf y > modes/private; chmod 0600 modes/private
printf z > modes/d700/in; chmod 0700 modes/d700; chmod 1777 modes/d1777
: > modes/empty
