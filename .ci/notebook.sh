#!/usr/bin/env bash
# Runs samples/notebooks/PromptTuning.ipynb, unmodified, in the .NET Interactive kernel (the dotnet-repl tool pinned in
# samples/notebooks/.config/dotnet-tools.json), from the notebook's own folder as VS Code's Polyglot Notebooks does,
# then reads the notebook it wrote: CheckNotebookOutput.cs fails on the first cell that raised an error or did not run.
# The checker is first shown a copy of that notebook with an error in one cell, which it must reject.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/mlnet-prompttuning-notebook.XXXXXX")"
packages="$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: //p')"
ran="$repo/samples/notebooks/obj/PromptTuning.ran.ipynb"   # kept for a look after the run (obj/ is ignored)

cleanup() {
  # The notebook packs the library under a version of its own; drop that version from the package cache.
  local version
  version="$(grep -o 'MLNet.PromptTuning 0[.0-9]*-notebook\.[0-9]*' "$ran" 2>/dev/null | head -n 1 | cut -d' ' -f2 || true)"
  if [ -n "$version" ] && [ -n "$packages" ]; then rm -rf "${packages%/}/mlnet.prompttuning/$version"; fi
  if [ -n "$version" ]; then rm -f "$repo/artifacts/packages/MLNet.PromptTuning.$version.nupkg"; fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$(dirname "$ran")"
rm -f "$ran"
cd "$repo/samples/notebooks"
dotnet tool restore
start=$SECONDS
status=0
dotnet repl --run PromptTuning.ipynb --exit-after-run --output-path "$ran" >"$work/repl.log" 2>&1 || status=$?
echo "dotnet repl exited with $status after $(( SECONDS - start )) s"
[ -f "$ran" ] || { cat "$work/repl.log"; echo "dotnet repl wrote no notebook" >&2; exit 1; }

check=(dotnet run "$repo/.ci/CheckNotebookOutput.cs" --)
# Self-test: the same notebook with an error output added to its first code cell must be rejected.
sed '0,/"outputs": *\[/s//"outputs": [{"output_type": "error", "ename": "SelfTest", "evalue": "injected"},/' "$ran" \
  >"$work/broken.ipynb"
if verdict="$("${check[@]}" PromptTuning.ipynb "$work/broken.ipynb" 2>&1)" \
   || ! grep -q "code cell 1 .* failed: SelfTest: injected" <<<"$verdict"; then
  echo "the notebook check did not reject a notebook with a failed cell: $verdict" >&2
  exit 1
fi

"${check[@]}" PromptTuning.ipynb "$ran"
[ "$status" -eq 0 ] || { echo "dotnet repl exited with $status although no cell failed" >&2; exit 1; }
