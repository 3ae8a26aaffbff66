#!/usr/bin/env bash
# `make demo`: the main flows of per, on the embedded SQLite default, in a scratch home under ./.demo.
# Every command is printed before it runs, so the output reads as a walk-through.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO="$PWD/.demo"
rm -rf "$DEMO"
mkdir -p "$DEMO/config/per" "$DEMO/outbox"
export XDG_DATA_HOME="$DEMO/data" XDG_CONFIG_HOME="$DEMO/config" PER_ACTOR="demo"
unset PER_DATABASE_URL PER_CONFIG PER_EMAIL_TRANSPORT PER_SMS_TRANSPORT
cat > "$DEMO/config/per/config.toml" <<TOML
# The demo's config file (found in the user config dir, as a real one would be).
[transports]
email = "file://$DEMO/outbox"
sms = "file://$DEMO/outbox"

[messages]
language = "sv"
TOML

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. The schema is created on first use of the embedded SQLite database"
run per db upgrade
run per db current

step "2. Care units and enrolment"
run per unit add NEURO-SU --name "Neurologi, Sahlgrenska"
run per patient enrol 19121212-1212 --first-name Tolvan --last-name Tolvansson --unit NEURO-SU --pal "Dr. Berg"
run per patient enrol 701063-2391 --first-name Sam --last-name Ordning --unit NEURO-SU --mobile "070-174 06 06"
echo "# Enrolling the same person under another form of the number is refused:"
run per patient enrol 121212+1212 --first-name Tolvan --last-name Tolvansson --unit NEURO-SU || echo "(exit $?)"
echo "# A spreadsheet-mangled number is refused with the reason:"
run per patient enrol "1,91212E+11" --first-name Tolvan --last-name Tolvansson --unit NEURO-SU || echo "(exit $?)"

step "3. The support desk edits the profile (mobile with country code, e-mail)"
run per patient edit-profile 1212121212 --mobile "+46 70 174 06 05" --email tolvan.tolvansson@tolv.se
run per patient list --format table

if [ -f examples/demo.d/bulk.sh ]; then source examples/demo.d/bulk.sh; fi
if [ -f examples/demo.d/password.sh ]; then source examples/demo.d/password.sh; fi
if [ -f examples/demo.d/login.sh ]; then source examples/demo.d/login.sh; fi
if [ -f examples/demo.d/bankid.sh ]; then source examples/demo.d/bankid.sh; fi
if [ -f examples/demo.d/registration.sh ]; then source examples/demo.d/registration.sh; fi
if [ -f examples/demo.d/rights.sh ]; then source examples/demo.d/rights.sh; fi

step "Every read and change above is in the access log"
run per audit list --format table
if per audit verify >/dev/null 2>&1; then run per audit verify; fi
printf '\nDemo data is in %s (delete it with: rm -rf .demo)\n' "$DEMO"
