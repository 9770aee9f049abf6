#!/bin/sh
# Rebuilds docs-site.tar.gz from docs-src/ reproducibly and prints its sha256,
# to paste into docs.yaml after editing the pages.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/public"
cp docs-src/* "$tmp/public/"
tar --sort=name --mtime='2026-01-01' --owner=0 --group=0 --numeric-owner -C "$tmp" -cf - public | gzip -n > docs-site.tar.gz
sha256sum docs-site.tar.gz
