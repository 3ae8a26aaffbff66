# Sourced by examples/demo.sh (which defines DEMO, step and run): login with personnummer + Mobile BankID,
# against `per bankid simulator`, the local stand-in of the BankID RP API v6.0.

step "Login with Mobile BankID, against the local BankID stand-in"
echo "# The stand-in runs in the background on a free port. It writes throwaway certificates and a ready"
echo "# [bankid] config section to its state dir and prints the address it listens on. Each order stays"
echo "# pending for two collects, then the app \"approves\"; Sam Ordning's orders end as if he pressed Cancel."
printf '$ %s\n' "per bankid simulator --port 0 --state-dir $DEMO/bankid --polls 2 --person 197010632391=userCancel &"
per bankid simulator --port 0 --state-dir "$DEMO/bankid" --polls 2 --person 197010632391=userCancel \
  >"$DEMO/bankid.out" 2>"$DEMO/bankid.log" &
BANKID_PID=$!
trap 'kill "$BANKID_PID" 2>/dev/null || true' EXIT  # never leave the stand-in running if the demo stops early
for _ in $(seq 300); do
  grep -q '^listening on ' "$DEMO/bankid.out" && break
  kill -0 "$BANKID_PID" 2>/dev/null || { cat "$DEMO/bankid.log" >&2; exit 1; }
  sleep 0.1
done
cat "$DEMO/bankid.out"
echo "# per finds BankID in the [bankid] section of its config file; the demo appends the stand-in's:"
run cat "$DEMO/bankid/per.toml"
{ echo; cat "$DEMO/bankid/per.toml"; } >>"$DEMO/config/per/config.toml"

echo "# The patient gives the personnummer; per asks BankID for an order only that person can complete, draws"
echo "# the animated QR code on stderr (redrawn every second, on a terminal) and collects every 2 seconds:"
run per login bankid 19121212-1212
echo "# Without a camera at hand: --no-qr prints the link that starts BankID on this computer instead."
echo "# 10 digits are resolved in the register; --format json is what a script reads:"
run per login bankid 1212121212 --no-qr --format json
echo "# Cancelled in the app: exit 4 with BankID's recommended message (Swedish; [bankid] language = \"en\"):"
run per login bankid 701063-2391 --no-qr || echo "(exit $?)"
echo "# Someone not in the register is refused before BankID is asked (the log keeps the real reason):"
run per login bankid 20000101-2384 --no-qr || echo "(exit $?)"
run per audit list --action login.bankid --format table

kill "$BANKID_PID" 2>/dev/null || true
wait "$BANKID_PID" 2>/dev/null || true
trap - EXIT
