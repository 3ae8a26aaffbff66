# Sourced by examples/demo.sh (which defines DEMO, step and run): a registration from start to export.

step "Registrations: the patient ticks scales, answers them, and the scores are computed"
run per scale list
echo "# Start a registration on two scales; --format plain prints one tab-separated line, the number first:"
printf '$ %s\n' 'REG=$(per registration new 19121212-1212 --scales MSIS-29,EQ-5D-5L --format plain | cut -f1)'
REG=$(per registration new 19121212-1212 --scales MSIS-29,EQ-5D-5L --format plain | cut -f1)
echo "# REG=$REG"
echo "# An unknown scale code is refused with the list of known codes:"
run per registration new 19121212-1212 --scales MSIS-29,EQ-5D || echo "(exit $?)"
echo "# An answer outside its item's range is refused, naming the item:"
run per registration answer "$REG" --scale EQ-5D-5L --answers 1,1,2,1,6,85 || echo "(exit $?)"
run per registration answer "$REG" --scale eq-5d-5l --answers 1,1,2,1,1,85
echo "# Answers can come from a file: one per line (or comma-separated), '#' starts a comment:"
{
  echo "# MSIS-29 v2, items 1-20 (physical)"
  printf '%s\n' 2 3 2 1 2 2 3 1 1 2 2 2 3 2 1 1 2 2 3 2
  echo "# items 21-29 (psychological)"
  printf '%s\n' 1 2 2 1 1 2 1 1 2
} > "$DEMO/msis29.txt"
run per registration answer "$REG" --scale MSIS-29 --file "$DEMO/msis29.txt"
run per registration show "$REG"
run per registration list 1212121212
echo "# For analysts: one row per answered scale, one column per score:"
run per registration export --format csv
run per registration export --scale EQ-5D-5L --unit NEURO-SU --format json
