#!/bin/sh
# CTest driver: exports the Gießen test catalog as Turtle and JSON-LD and
# validates both with the official DCAT-AP.de 2.0 SHACL shapes (profile
# "Spezifikation + Konventionen") through tests/dcat-ap-de/run_validator.sh.
# Passes only with 0 violations in both files; warnings are printed.
#
#   validate_export.sh EXPORT_PROGRAM OUT_DIR RUN_VALIDATOR
set -eu
program=$1
out_dir=$2
validator=$3
mkdir -p "$out_dir"
"$program" "$out_dir/giessen"
failed=0
for f in "$out_dir/giessen.ttl" "$out_dir/giessen.jsonld"; do
  echo "=== $f"
  status=0
  "$validator" "$f" >"$f.report" 2>&1 || status=$?
  cat "$f.report"
  summary=$(tail -n 1 "$f.report")
  case $summary in
    "0 violations,"*) ;;
    *) echo "FAIL: $f: $summary (exit $status)"; failed=1; continue ;;
  esac
  if [ "$status" -ne 0 ]; then
    echo "FAIL: $f: validator exit status $status"
    failed=1
  fi
done
exit "$failed"
