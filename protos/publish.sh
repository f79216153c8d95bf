#!/bin/sh
# Record the committed protos (HEAD, never uncommitted edits) as published: the image
# `make buf-breaking` holds every later change to. Run it when a client version is released.
set -eu
image="${1:-protos/published/v1.binpb}"
buf="$(realpath "${BUF:-.venv/bin/buf}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git archive HEAD protos buf.yaml | tar -x -C "$work"
mkdir -p "$work/gen" "$(dirname "$image")"
cp -r gen/third_party "$work/gen/third_party"
(cd "$work" && "$buf" build -o image.binpb)
cp "$work/image.binpb" "$image"
echo "protos: HEAD published as $image"
