#!/usr/bin/env bash
# ci-smoke-logins.sh — smoke-test the one-time-code, care giver proxy and BankID logins of `per` before a release.
#
# Copy this into a CI pipeline as it is. It needs `per` on PATH and a POSIX shell's tools: it builds a scratch
# SQLite database in a temporary directory, sends every message with the file:// transport into that
# directory (no SMS or e-mail leaves the machine), and removes it all at the end. BankID runs against
# `per bankid simulator`, the local stand-in of the RP API v6.0 (mutual TLS with throwaway certificates),
# started on a free port for the run and stopped at the end; no real BankID is contacted.
#
#   examples/ci-smoke-logins.sh                 # all three flows
#   SMOKE_FLOWS=proxy examples/ci-smoke-logins.sh
#   SMOKE_FLOWS="otp bankid" examples/ci-smoke-logins.sh
#   SMOKE_DATABASE_URL=postgresql+psycopg://ci@db/scratch examples/ci-smoke-logins.sh   # an EMPTY scratch DB
#
# Exit status: 0 every check passed; 1 a check failed. Each failure says whether `per` DENIED (exit 4: a
# login that should work was refused) or is BROKEN (exit 1: configuration, transport, database), or answered
# a refusal with the wrong code. Every step is logged on stderr with a leading "==".
#
# The one-time-code flow needs the patient's first password, sent with `per password send --sms`; `per login
# otp --password-from-outbox` reads it back from the outbox, as `--code-from-outbox` reads the code.

set -euo pipefail

flows=${SMOKE_FLOWS:-otp proxy bankid}
work=$(mktemp -d "${TMPDIR:-/tmp}/per-smoke.XXXXXX")
sim_pid=
# stop_simulator: end the BankID stand-in (SIGTERM: it shuts down cleanly) and wait for it.
stop_simulator() {
  if [ -n "$sim_pid" ]; then
    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
    sim_pid=
  fi
}
trap 'stop_simulator; rm -rf "$work"' EXIT

export PER_DATABASE_URL=${SMOKE_DATABASE_URL:-sqlite:///$work/per.db}
export PER_CONFIG=$work/per.toml
export PER_SMS_TRANSPORT=file://$work/outbox
export PER_EMAIL_TRANSPORT=file://$work/outbox
export PER_ACTOR=ci-smoke
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
export PER_OTP_KEY=$(random_hex 32)
unset PER_SESSION
cat >"$work/per.toml" <<'TOML'
[messages]
language = "sv"
TOML

PNR=191212121212          # Skatteverket's test identity Tolvan Tolvansson
PNR10=1212121212          # the same, as patients type it (10 digits)
OTHER=197010632391        # a samordningsnummer, enrolled at the other unit

step() { printf '== %s\n' "$*" >&2; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

# run CMD...: must succeed; a failure is reported as denied (4) or broken (anything else).
run() {
  local rc=0
  "$@" || rc=$?
  case $rc in
    0) ;;
    4) fail "DENIED (exit 4): $*" ;;
    *) fail "BROKEN (exit $rc): $*" ;;
  esac
}

# refused WANT CMD...: must exit with WANT (4 = denied, 1 = refused input); its output is discarded.
refused() {
  local want=$1 rc=0
  shift
  "$@" >/dev/null 2>"$work/stderr" || rc=$?
  [ "$rc" = "$want" ] || fail "expected exit $want, got $rc: $* ($(cat "$work/stderr"))"
}

# first_field: the first tab-separated field of `--format plain` output (token, challenge id).
first_field() { cut -f1 | head -n1; }

random_password() { printf 'smoke-%s\n' "$(random_hex 18)"; }

step "scratch database and units"
run per -q db upgrade >/dev/null      # creates the SQLite file (other commands refuse a path that does not exist)
run per -q unit add SMOKE-A --name "Smoke unit A" >/dev/null
run per -q unit add SMOKE-B --name "Smoke unit B" >/dev/null
run per -q patient enrol "$PNR" --first-name Tolvan --last-name Tolvansson --unit SMOKE-A \
  --mobile +46701740605 --email tolvan.tolvansson@example.se >/dev/null
run per -q patient enrol "$OTHER" --first-name Samuel --last-name Samordning --unit SMOKE-B >/dev/null

if [[ " $flows " == *" otp "* ]]; then
  step "otp: staff send the first password by SMS"
  run per -q password send "$PNR" --sms >/dev/null

  step "otp: password and code read from the outbox, in one step"
  out=$(run per -q login otp "$PNR10" --password-from-outbox --channel sms --code-from-outbox --format plain) ||
    exit 1
  token=$(first_field <<<"$out")
  [ ${#token} -ge 43 ] || fail "BROKEN: no session token printed"
  run per -q session show "$token" >/dev/null

  step "otp: a wrong password is denied (exit 4)"
  printf '%s\n' "not-the-password" | refused 4 per -q login otp "$PNR" --password-stdin --channel sms --send-only

  step "otp: two steps (--send-only, then --challenge) and a code used twice"
  out=$(run per -q login otp "$PNR" --password-from-outbox --channel sms --send-only --format plain) || exit 1
  challenge=$(first_field <<<"$out")
  run per -q login otp --challenge "$challenge" --code-from-outbox --format plain >/dev/null
  refused 4 per -q login otp --challenge "$challenge" --code-from-outbox
  echo "ok: one-time-code login" >&2
fi

if [[ " $flows " == *" proxy "* ]]; then
  step "proxy: care givers at each unit"
  cg_password=$(random_password)
  printf '%s\n' "$cg_password" | run per -q caregiver add smoke.a --unit SMOKE-A --name "Smoke A" \
    --password-stdin >/dev/null
  printf '%s\n' "$cg_password" | run per -q caregiver add smoke.b --unit SMOKE-B --name "Smoke B" \
    --password-stdin >/dev/null

  step "proxy: a care giver logs in for a patient of their unit"
  out=$(printf '%s\n' "$cg_password" | run per -q login proxy "$PNR" --user smoke.a --password-stdin \
        --format plain) || exit 1
  token=$(first_field <<<"$out")
  shown=$(run per -q session show "$token" --format plain) || exit 1
  [[ $shown == *smoke.a* ]] || fail "BROKEN: the session does not name the care giver"

  step "proxy: refusals (exit 4): other unit, wrong password, disabled account"
  printf '%s\n' "$cg_password" | refused 4 per -q login proxy "$PNR" --user smoke.b --password-stdin
  printf '%s\n' "wrong-$cg_password" | refused 4 per -q login proxy "$PNR" --user smoke.a --password-stdin
  run per -q caregiver disable smoke.a >/dev/null
  printf '%s\n' "$cg_password" | refused 4 per -q login proxy "$PNR" --user smoke.a --password-stdin
  shown=$(run per -q session show "$token" --format plain) || exit 1
  [[ $shown == *revoked* ]] || fail "BROKEN: disabling the care giver kept the session"
  echo "ok: care giver proxy login" >&2
fi

if [[ " $flows " == *" bankid "* ]]; then
  step "bankid: start the stand-in (per bankid simulator) on a free port"
  # One pending collect, then the app "approves"; OTHER's orders end as if the user pressed Cancel.
  per bankid simulator --port 0 --state-dir "$work/bankid" --polls 1 --person "$OTHER=userCancel" \
    --ready-file "$work/bankid.ready" >/dev/null 2>"$work/bankid.log" &
  sim_pid=$!
  for _ in $(seq 300); do
    [ -e "$work/bankid.ready" ] && break
    kill -0 "$sim_pid" 2>/dev/null || fail "BROKEN: the BankID simulator did not start ($(cat "$work/bankid.log"))"
    sleep 0.1
  done
  [ -e "$work/bankid.ready" ] || fail "BROKEN: the BankID simulator did not start in 30 s"
  # Its per.toml holds a ready [bankid] section (URL, CA, RP certificate); collect every 0.1 s, not 2 s.
  { echo; cat "$(sed -n 's/^config=//p' "$work/bankid.ready")"; echo "poll_interval = 0.1"; } >>"$work/per.toml"

  step "bankid: login with the autostart link instead of a QR code (10 digits, resolved in the register)"
  out=$(run per -q login bankid "$PNR10" --no-qr --format plain) || exit 1
  token=$(first_field <<<"$out")
  [ ${#token} -ge 43 ] || fail "BROKEN: no session token printed"
  shown=$(run per -q session show "$token" --format plain) || exit 1
  [[ $shown == *bankid* ]] || fail "BROKEN: the session does not say BankID"

  step "bankid: refusals (exit 4): cancelled in the app, unknown patient (no order started)"
  refused 4 per -q login bankid "$OTHER" --no-qr
  refused 4 per -q login bankid 200001012384 --no-qr

  step "bankid: BankID unreachable is broken (exit 1), not denied"
  stop_simulator
  refused 1 per -q login bankid "$PNR" --no-qr
  echo "ok: BankID login" >&2
fi

step "the audit log is intact"
run per -q audit verify >/dev/null
run per -q session revoke --patient "$PNR" >/dev/null
echo "smoke test passed: ${flows}" >&2
