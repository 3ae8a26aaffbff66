# Sourced by examples/demo.sh (which defines DEMO, step and run): a patient's rights (GDPR art. 15 and 21).

step "Patients' rights: the register extract, an objection honoured, and the next import refusing them"
echo "# Everything the registry holds about a person, as a file only you can read:"
run per patient extract 701063-2391 --format xlsx --output "$DEMO/registerutdrag.xlsx"
run per patient enrol 460816-2386 --first-name Greta --last-name Ängström --unit NEURO-SU
echo "# She objects: her data are erased, a tombstone keeps the proof and the refusal:"
run per patient erase 460816-2386 --reason objection --note "Ärende 2026-117" --yes
run per patient objections
echo "# A later enrolment of the same person is refused:"
run per patient enrol 460816-2386 --first-name Greta --last-name Ängström --unit NEURO-SU || echo "(exit $?)"
