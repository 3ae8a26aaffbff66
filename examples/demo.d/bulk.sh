# Sourced by examples/demo.sh (which defines DEMO, step and run): bulk enrolment from a spreadsheet.

step "Bulk enrolment from a Swedish Excel export (semicolons, Windows-1252, å/ä/ö) with no options"
echo "# examples/patienter-exempel.csv has 5 rows: one landline as mobile, one bad e-mail, one bad check digit."
run per patient enrol --file examples/patienter-exempel.csv --unit NEURO-SU --dry-run || echo "(exit $?)"
run per patient enrol --file examples/patienter-exempel.csv --unit NEURO-SU --rejects "$DEMO/avvisade.csv" \
  || echo "(exit $?: some rows were rejected)"
echo "# The rejected rows, in the input's own columns plus line and reason (Windows-1252, as the input):"
printf '$ %s\n' "iconv -f cp1252 -t utf-8 $DEMO/avvisade.csv"
iconv -f cp1252 -t utf-8 "$DEMO/avvisade.csv" 2>/dev/null || "${PYTHON:-python3}" -c \
  'import sys; sys.stdout.write(open(sys.argv[1], encoding="cp1252").read())' "$DEMO/avvisade.csv"
echo "# Running the same file again changes nothing: every valid row is reported unchanged."
run per patient enrol --file examples/patienter-exempel.csv --unit NEURO-SU --format json || echo "(exit $?)"
