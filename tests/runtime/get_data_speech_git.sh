#!/bin/sh
# get_data_speech_git.sh GET_DATA SHARED_SPEECH_DIR WORK - the git path of
# `get-data.sh speech-commands` without a network: a local repository made
# from the shared clips (without their manifest) stands in for GitHub; the
# manifest the script builds must equal the shared one byte for byte.
# Exits 77 (skipped) without git or the shared clips.
set -eu
get_data=$1 shared=$2 work=$3
command -v git >/dev/null 2>&1 || { echo "skipped: no git"; exit 77; }
[ -d "$shared/speech_commands_v0.01" ] || { echo "skipped: $shared is missing"; exit 77; }
rm -rf "$work"
mkdir -p "$work/repo"
cp -R "$shared/speech_commands_v0.01" "$work/repo/"
chmod -R u+w "$work/repo"
rm "$work/repo/speech_commands_v0.01/subset_manifest.tsv"
(cd "$work/repo" && git init -q && git add . &&
  git -c user.name=t -c user.email=t@t commit -qm clips) >/dev/null
SPEECH_COMMANDS_REPO="file://$work/repo" sh "$get_data" speech-commands "$work/out"
cmp "$work/out/speech_commands_v0.01/subset_manifest.tsv" "$shared/speech_commands_v0.01/subset_manifest.tsv"
echo "PASS: the rebuilt manifest equals the shared one"
