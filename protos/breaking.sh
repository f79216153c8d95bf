#!/bin/sh
# Check the protos for wire- and source-breaking changes (buf's FILE rules) against what clients
# were built from: by default the committed image of the published protos
# (protos/published/v1.binpb, refreshed only by `make buf-publish`), or a git revision.
# Added files, services, methods and fields pass; removed or changed ones fail.
# BUF_INPUT names another workspace to check (default: this checkout).
set -eu
against="${1:-protos/published/v1.binpb}"
buf="$(realpath "${BUF:-.venv/bin/buf}")"
input="${BUF_INPUT:-.}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ ! -f "$against" ]; then
  # A git revision, built with the same vendored google/api protos so it compiles offline.
  git archive "$against" protos buf.yaml | tar -x -C "$work"
  mkdir -p "$work/gen"
  cp -r gen/third_party "$work/gen/third_party"
  (cd "$work" && "$buf" build -o against.binpb)
  against_image="$work/against.binpb"
else
  against_image="$against"
fi
# Image against image: a workspace of two modules would be compared module by module, and each
# would miss the other's files.
(cd "$input" && "$buf" build -o "$work/input.binpb")
"$buf" breaking "$work/input.binpb" --against "$against_image"
echo "protos: no breaking change against $against"
