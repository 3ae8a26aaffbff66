# Sourced by examples/demo.sh (which defines DEMO, step and run): "Skicka nytt lösenord".

step "The support desk sends a new password by SMS and e-mail (here: the file:// outbox)"
run per password send 19121212-1212 --sms --email
echo "# The messages the patient receives (the demo's transports write them to $DEMO/outbox):"
for channel in email sms; do
  newest=$(ls "$DEMO"/outbox/*-"$channel"-*.json | tail -n 1)
  run cat "$newest"
done
echo "# The profile shows where and when the password went:"
printf '$ %s\n' "per patient show 19121212-1212 | grep password_sent"
per patient show 19121212-1212 | grep password_sent
echo "# A chosen channel the profile cannot serve is refused before anything changes (no e-mail address here):"
run per password send 701063-2391 --sms --email || echo "(exit $?)"
