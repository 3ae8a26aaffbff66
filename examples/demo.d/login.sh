# Sourced by examples/demo.sh (which defines DEMO, step and run): password + one-time code, and care giver proxy.

step "Login with personnummer + password + one-time code (two steps, as a CI pipeline runs it)"
sms=$(ls "$DEMO"/outbox/*-sms-*.json | tail -n 1)
password=$("${PYTHON:-python3}" -c 'import json, re, sys; print(re.search(r"PER: (\S+)", json.load(open(sys.argv[1]))["body"])[1])' "$sms")
echo "# The patient types the personnummer as 10 digits and the password from the SMS; the code comes by SMS/e-mail."
printf '$ %s\n' "echo \$PASSWORD | per login otp 1212121212 --password-stdin --code-from-outbox --format json"
login_json=$(echo "$password" | per login otp 1212121212 --password-stdin --code-from-outbox --format json)
echo "$login_json"
token=$("${PYTHON:-python3}" -c 'import json, sys; print(json.load(sys.stdin)["token"])' <<<"$login_json")
echo "# A wrong password is denied (exit 4), with the same message as an unknown patient or a locked account:"
printf '$ %s\n' "echo fel-lösenord | per login otp 1212121212 --password-stdin --code-from-outbox"
echo "fel-lösenord" | per login otp 1212121212 --password-stdin --code-from-outbox || echo "(exit $?)"
run per session show "$token"

step "The patient changes the first password under \"Min profil\""
printf '$ %s\n' "printf 'OLD\\nNEW\\nNEW\\n' | per password change 1212121212 --session TOKEN --password-stdin"
printf '%s\nEtt-eget-lösenord-2026\nEtt-eget-lösenord-2026\n' "$password" | per password change 1212121212 --session "$token" --password-stdin

step "Login through the care giver's own account (proxy)"
printf '$ %s\n' "echo '***' | per caregiver add anna --unit NEURO-SU --name 'Anna Berg' --password-stdin"
echo "Vårdgivare-Lösen-2026" | per caregiver add anna --unit NEURO-SU --name "Anna Berg" --password-stdin
run per caregiver list
printf '$ %s\n' "echo '***' | per login proxy 19121212-1212 --user anna --password-stdin"
echo "Vårdgivare-Lösen-2026" | per login proxy 19121212-1212 --user anna --password-stdin
run per session list --patient 19121212-1212
