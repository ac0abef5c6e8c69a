#!/usr/bin/env bash
# The include rules the link check cannot see. Linking stops an upward call (store ->
# agents); it cannot stop a layer from skipping one below it, because the binary links
# them all. So: HTTP routes reach the service layer (app/) only, never the store or the
# graph; the pure layers include only themselves and base/. Prints each offending include
# and exits 1. Usage: check_includes.sh SRC_DIR
set -u
src=${1:-src}
bad=0
rule() { # rule DIR ALLOWED_REGEX WHY
  local dir=$1 allowed=$2 why=$3 hits
  hits=$(grep -rnE '^#include "' "$src/$dir" --include='*.c' --include='*.h' |
         grep -vE "#include \"($allowed)" || true)
  if [ -n "$hits" ]; then
    printf '%s\n' "$hits" | sed "s|^|layer rule ($why): |"
    bad=1
  fi
}
rule base 'base/' 'base includes only base'
rule domain 'base/|domain/' 'domain is pure: base and domain only'
rule graph 'base/|graph/' 'the graph engine knows no storage library'
rule metrics 'base/|metrics/' 'metrics include base only'
rule auth 'base/|auth/' 'auth (scopes, keys, tokens) includes base only'
rule resilience 'base/|resilience/' 'resilience includes base only'
rule llm 'base/|resilience/breaker.h|llm/' 'LLM providers speak base and the breaker only'
rule store 'base/|graph/|resilience/ratelimit.h|store/' 'the store speaks base, the saver and the limiter interfaces only'
rule http 'base/|domain/|agents/agent.h|app/|auth/|http/|metrics/' 'routes call services, never the store or the graph'
exit $bad
