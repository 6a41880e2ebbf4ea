#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# need.sh <target> <debian-package>...: make sure the packages are installed,
# the way `make check` does it: apt-get as root or through passwordless sudo,
# otherwise print the exact command and fail (exit 2).
set -u
target=$1
shift
missing=
if ! command -v dpkg-query >/dev/null 2>&1; then
	exit 0 # not Debian: the caller's own check names what is missing
fi
for p in "$@"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y$missing"
echo "$target: installing missing packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
	sh -c "$cmd" && exit 0
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	sudo sh -c "$cmd" && exit 0
fi
echo "$target: needs the Debian packages$missing. Run:"
echo "  sudo sh -c '$cmd'"
exit 2
