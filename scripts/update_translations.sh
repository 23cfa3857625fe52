#!/usr/bin/env bash
# Extract every string marked with _() or N_() and merge it into the Chinese catalogue.
# New strings arrive untranslated; fill in their msgstr in ui/locales/zh/LC_MESSAGES/messages.po
# (tests/test_i18n.py fails until every marked string has a translation).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p ui/locales
pybabel extract -F babel.cfg -k _ -k N_ --no-location --sort-output -o ui/locales/messages.pot .
if [ -f ui/locales/zh/LC_MESSAGES/messages.po ]; then
    pybabel update -i ui/locales/messages.pot -d ui/locales -D messages -l zh --no-fuzzy-matching --ignore-obsolete
else
    pybabel init -i ui/locales/messages.pot -d ui/locales -D messages -l zh
fi
