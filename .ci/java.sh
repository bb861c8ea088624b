#!/usr/bin/env bash
# Java for the Spark tests (pyspark starts a JVM in local mode).
#
#   bash .ci/java.sh        # install Debian's default-jre-headless when no `java` is on PATH
#
# Everything goes to stderr; exits non-zero only when Java cannot be installed.
set -euo pipefail

log() { echo "java.sh: $*" >&2; }

if command -v java >/dev/null 2>&1; then
    log "found $(java -version 2>&1 | head -n 1)"
    exit 0
fi
log "installing default-jre-headless (Debian package)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends default-jre-headless >&2
command -v java >/dev/null 2>&1 || { log "no java on PATH after installing default-jre-headless"; exit 1; }
log "installed $(java -version 2>&1 | head -n 1)"
