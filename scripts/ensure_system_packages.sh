#!/usr/bin/env bash
# Debian packages the service and its tests need, installed with apt-get when missing:
#   pdf      Pango (WeasyPrint renders the certificates of erasure with it)
#   browser  Chromium (the admin tests drive Debian's Chromium, never a downloaded one)
set -euo pipefail
missing=()
for need in "$@"; do
    case "$need" in
        pdf)
            # Each library checked on its own: a machine may have Pango without HarfBuzz's
            # subsetter, which WeasyPrint warns about (and the tests fail on warnings).
            ldconfig -p | grep -q 'libpangoft2-1.0.so.0' || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
            ldconfig -p | grep -q 'libharfbuzz-subset.so.0' || missing+=(libharfbuzz-subset0)
            [ -d /usr/share/fonts/truetype/dejavu ] || missing+=(fonts-dejavu-core)
            ;;
        browser)
            command -v chromium >/dev/null 2>&1 || missing+=(chromium)
            ;;
        *)
            echo "unknown need: $need (pdf, browser)" >&2
            exit 2
            ;;
    esac
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian packages: ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "Please install these Debian packages: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
