#!/usr/bin/env bash
# Installs the Debian packages the larger pre-training corpus is built from (src/data/
# corpus.ts; README "Reproducing the base model"). Only needed to rebuild the corpus and
# re-train the base model: `npm test` and `npm run demo` do not use them.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo -n"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends \
  dict-gcide dict-jargon dict-foldoc bible-kjv bible-kjv-text fortunes python3.11-doc
echo "installed; build the corpus with: node dist/src/cli/main.js data --corpus"
