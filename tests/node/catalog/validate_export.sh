#!/bin/sh
# CTest driver: exports the Gießen test catalog as Turtle and JSON-LD and
# validates both with the official DCAT-AP.de 2.0 SHACL shapes (profile
# "Spezifikation + Konventionen") through tests/dcat-ap-de/run_validator.sh.
# Passes only with 0 violations in every file; warnings are printed.
#
#   validate_export.sh EXPORT_PROGRAM OUT_DIR RUN_VALIDATOR
set -eu
program=$1
out_dir=$2
validator=$3
mkdir -p "$out_dir"
"$program" "$out_dir/giessen"
failed=0
for f in "$out_dir/giessen.ttl" "$out_dir/giessen.jsonld" "$out_dir/giessen-county.ttl"; do
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

# Negative control: without dct:license the same export must fail (K31), so
# a validator that silently checks nothing cannot make this test pass.
sed '/dct:license /d' "$out_dir/giessen.ttl" >"$out_dir/giessen-no-license.ttl"
status=0
"$validator" "$out_dir/giessen-no-license.ttl" --quiet >"$out_dir/giessen-no-license.ttl.report" 2>&1 ||
  status=$?
echo "=== negative control (no dct:license): $(tail -n 1 "$out_dir/giessen-no-license.ttl.report")"
if [ "$status" -ne 1 ]; then
  echo "FAIL: the export without dct:license gave exit status $status, expected 1"
  failed=1
fi
exit "$failed"
