#!/bin/sh
# nn2c plot: learning curves from a --metrics file (CSV or JSON Lines, columns by
# name, missing ones tolerated, step rows skipped) as an SVG that parses as XML;
# headless Chromium renders it and each curve's colour must be in the PNG (skipped,
# after the other checks, without Debian's chromium). Bad files exit 1.
set -eu
nn2c=$1 src=$2 tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
check=$src/tests/tools/plot_check.py
cat >"$tmp/m.csv" <<'CSV'
kind,epoch,step,train_loss,train_accuracy,val_loss,val_accuracy,test_loss,test_accuracy,lr,samples_per_s,elapsed_s
step,1,100,1.2,0.6,,,,,0.001,5000,1.0
epoch,1,187,0.9,0.72,0.7,0.78,0.68,0.79,0.001,5100,2.0
epoch,2,374,0.5,0.85,0.45,0.86,0.44,0.87,0.001,5200,4.0
epoch,3,561,0.35,0.9,0.38,0.89,0.37,0.9,0.001,5200,6.0
epoch,4,748,0.28,0.92,0.36,0.9,0.35,0.905,0.001,5200,8.0
CSV
"$nn2c" plot "$tmp/m.csv" -o "$tmp/m.svg" || fail "plot exited $?"
/usr/bin/python3 "$check" "$tmp/m.svg" 6 || exit 1
[ "$(grep -o '<circle' "$tmp/m.svg" | wc -l)" -eq 24 ] || fail "not 4 points per series (the step row is not an epoch)"
# JSON Lines, no validation split (nulls), and columns in another order
cat >"$tmp/m.jsonl" <<'JSON'
{"kind": "epoch", "epoch": 1, "step": 10, "test_loss": 0.8, "train_loss": 1.0, "val_loss": null, "train_accuracy": 0.5, "test_accuracy": 0.6}
{"kind": "epoch", "epoch": 2, "step": 20, "test_loss": 0.6, "train_loss": 0.7, "val_loss": null, "train_accuracy": 0.7, "test_accuracy": 0.7}
JSON
"$nn2c" plot "$tmp/m.jsonl" -o "$tmp/j.svg" || fail "jsonl: exited $?"
/usr/bin/python3 "$check" "$tmp/j.svg" 4 || exit 1
# only a train loss, no kind column: one curve, the accuracy panel says so
printf 'epoch,train_loss\n1,2.5\n2,1.5\n3,1.0\n' >"$tmp/few.csv"
"$nn2c" plot "$tmp/few.csv" -o "$tmp/few.svg" || fail "few columns: exited $?"
/usr/bin/python3 "$check" "$tmp/few.svg" 1 || exit 1
grep -q 'no accuracy data' "$tmp/few.svg" || fail "the empty accuracy panel is not labelled"
# bad files
printf 'epoch,train_loss\n1,abc\n' >"$tmp/bad.csv"
printf 'step,lr\n1,0.1\n' >"$tmp/nocols.csv"
for bad in "bad.csv:2: column 2 is not a number" "nocols.csv: needs an epoch column" "missing.csv: cannot read"; do
  f=${bad%%:*}
  if "$nn2c" plot "$tmp/$f" -o "$tmp/out.svg" 2>"$tmp/err"; then fail "$f was accepted"; fi
  grep -qF "$tmp/$bad" "$tmp/err" || fail "$f: $(cat "$tmp/err")"
done
if "$nn2c" plot "$tmp/m.csv" -o "$tmp" 2>"$tmp/err"; then fail "-o a folder was accepted"; fi
[ ! -e "$tmp/out.svg" ] || fail "a failed plot wrote its output"
# a real metrics file, once the trainer writes them (issue 17 #1)
if "$nn2c" run "$src/examples/xor.nn" --help 2>&1 | grep -q -- '--metrics'; then
  "$nn2c" run "$src/examples/xor.nn" --epochs 5 --metrics "$tmp/xor.csv" --quiet >/dev/null || fail "xor --metrics"
  "$nn2c" plot "$tmp/xor.csv" -o "$tmp/xor.svg" || fail "plot of the trainer's metrics"
  n=$(grep -o '<polyline' "$tmp/xor.svg" | wc -l)
  [ "$n" -ge 2 ] || fail "the trainer's metrics gave $n curves (train and test loss at least)"
  /usr/bin/python3 "$check" "$tmp/xor.svg" "$n" || exit 1
fi
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
  echo "skip: chromium is not installed (the SVG checks passed; the rendering was not checked)"
  exit 77
fi
HOME=$tmp timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=960,410 \
  --screenshot="$tmp/m.png" "file://$tmp/m.svg" >"$tmp/chromium.log" 2>&1 || fail "chromium: $(tail -3 "$tmp/chromium.log")"
/usr/bin/python3 "$check" "$tmp/m.svg" 6 "$tmp/m.png" || exit 1
echo "ok: plot writes XML that Chromium renders with every curve"
