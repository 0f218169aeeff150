#!/usr/bin/env bash
# make install / make uninstall behind the top-level Makefile.
#
# `make install` first installs every component into a private staging tree
# (each component's own install rule, DESTDIR=stage); this script then copies
# the staged tree into DESTDIR and records in a manifest exactly what it
# created, so that `make uninstall` removes that and nothing else:
#   f PATH          a file or symbolic link it installed
#   c SHA256 PATH   a configuration file it installed (absent before)
#   d PATH          a directory it created
# Configuration files (--config PATH, repeated) that already exist are left
# alone and not recorded; at uninstall one changed since it was installed is
# kept (and said so).  The manifest is installed too (its own path is given
# relative to DESTDIR) and merged with the previous one, so that installing
# twice and uninstalling once leaves nothing.
#
# Usage: install-manifest.sh install STAGE DESTDIR MANIFEST [--config PATH]...
#        install-manifest.sh uninstall DESTDIR MANIFEST
set -euo pipefail

die() {
	echo "install-manifest.sh: $*" >&2
	exit 1
}

cmd=${1:-}
case $cmd in
install)
	[ $# -ge 4 ] || die "usage: $0 install STAGE DESTDIR MANIFEST [--config PATH]..."
	stage=$2 dest=$3 manifest=$4
	shift 4
	declare -A config=()
	while [ $# -gt 0 ]; do
		[ "$1" = --config ] && [ $# -ge 2 ] || die "unexpected argument '$1'"
		config[$2]=1
		shift 2
	done
	[ -d "$stage" ] || die "no staging tree $stage"
	case $manifest in /*) ;; *) die "MANIFEST must be an absolute path (inside DESTDIR)" ;; esac
	# the manifest's own directories (the staging tree may not have them)
	mdirs=()
	p=$(dirname "$manifest")
	while [ "$p" != / ] && [ ! -d "$dest$p" ]; do
		mdirs=("$p" "${mdirs[@]+"${mdirs[@]}"}")
		p=$(dirname "$p")
	done
	mkdir -p "$dest$(dirname "$manifest")"
	new=$(mktemp "$dest$(dirname "$manifest")/.install-manifest.XXXXXX")
	trap 'rm -f "$new"' EXIT
	for p in "${mdirs[@]+"${mdirs[@]}"}"; do
		echo "d $p" >>"$new"
	done
	# directories first (parents before children), then everything else
	while IFS= read -r -d '' d; do
		p=${d#"$stage"}
		[ -n "$p" ] || continue
		if [ ! -d "$dest$p" ]; then
			mkdir "$dest$p"
			echo "d $p" >>"$new"
		fi
	done < <(find "$stage" -type d -print0 | sort -z)
	while IFS= read -r -d '' f; do
		p=${f#"$stage"}
		if [ -n "${config[$p]:-}" ]; then
			if [ -e "$dest$p" ] || [ -L "$dest$p" ]; then
				echo "install-manifest.sh: keeping the existing $dest$p" >&2
				continue
			fi
			cp -P --preserve=mode "$f" "$dest$p"
			echo "c $(sha256sum "$dest$p" | cut -d' ' -f1) $p" >>"$new"
			continue
		fi
		rm -f "$dest$p"
		cp -P --preserve=mode "$f" "$dest$p"
		echo "f $p" >>"$new"
	done < <(find "$stage" ! -type d -print0 | sort -z)
	# what a previous install created and this one found already there
	if [ -f "$dest$manifest" ]; then
		while read -r kind a b; do
			case $kind in
			d) [ -d "$dest$a" ] && ! grep -qxF "d $a" "$new" && echo "d $a" >>"$new" ;;
			f) [ -e "$dest$a" ] || [ -L "$dest$a" ] && ! grep -qxF "f $a" "$new" && echo "f $a" >>"$new" ;;
			c) [ -e "$dest$b" ] && ! grep -q " $b\$" "$new" && echo "c $a $b" >>"$new" ;;
			esac
		done <"$dest$manifest"
	fi
	echo "f $manifest" >>"$new"
	chmod 644 "$new"
	mv -f "$new" "$dest$manifest"
	trap - EXIT
	echo "install-manifest.sh: installed $(grep -c '^[fc] ' "$dest$manifest") files into ${dest:-/} (manifest $manifest)"
	;;
uninstall)
	[ $# -eq 3 ] || die "usage: $0 uninstall DESTDIR MANIFEST"
	dest=$2 manifest=$3
	[ -f "$dest$manifest" ] || die "no manifest $dest$manifest: nothing was installed there by make install"
	list=$(cat "$dest$manifest")
	n=0
	while read -r kind a b; do
		case $kind in
		f)
			rm -f "$dest$a"
			n=$((n + 1))
			;;
		c)
			if [ -e "$dest$b" ] && [ "$(sha256sum "$dest$b" | cut -d' ' -f1)" != "$a" ]; then
				echo "install-manifest.sh: keeping $dest$b (changed since it was installed)" >&2
			else
				rm -f "$dest$b"
				n=$((n + 1))
			fi
			;;
		d) ;;
		*) die "bad manifest line '$kind $a $b'" ;;
		esac
	done <<<"$list"
	# directories deepest first; one still holding something is kept
	while read -r d; do
		[ -d "$dest$d" ] || continue
		rmdir "$dest$d" 2>/dev/null ||
			echo "install-manifest.sh: keeping $dest$d (not empty)" >&2
	done < <(sed -n 's/^d //p' <<<"$list" | sort -r)
	echo "install-manifest.sh: removed $n files from ${dest:-/}"
	;;
*) die "usage: $0 install STAGE DESTDIR MANIFEST [--config PATH]... | uninstall DESTDIR MANIFEST" ;;
esac
