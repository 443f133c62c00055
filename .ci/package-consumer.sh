#!/usr/bin/env bash
# Proves the NuGet package in a new user's app: packs the library with a unique prerelease version (so a package of
# the same version left in the NuGet cache can never be reused), copies package-consumer/ to a temporary folder
# outside the repository (so none of its Directory.Build.*, Directory.Packages.props or NuGet.config applies), gives
# it a nuget.config with the local folder added to the default feed, and runs it: the native library through the
# package's own fix, one epoch of training on samples/Assets, save, then load and predict in a fresh process. Where
# the fix was needed, it also checks that the app fails with the fix turned off. Any failure exits non-zero.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/mlnet-prompttuning-consumer.XXXXXX")"
suffix="ci.$(date -u +%Y%m%d%H%M%S).$$"
packages="$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: //p')"
version=""

cleanup() {
  # The unique version is this run's own; drop it from the package cache so runs do not pile up.
  if [ -n "$version" ] && [ -n "$packages" ]; then rm -rf "${packages%/}/mlnet.prompttuning/$version"; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "package-consumer: $*" >&2; exit 1; }
step() { local start=$SECONDS; "$@"; echo "   ($(( SECONDS - start )) s)"; }

case "$work/" in "$repo"/*) fail "the temporary folder $work is inside the repository" ;; esac
dir="$work"
while [ "$dir" != "/" ]; do
  for f in Directory.Build.props Directory.Build.targets Directory.Packages.props; do
    [ ! -e "$dir/$f" ] || fail "$dir/$f would apply to the consumer app"
  done
  dir="$(dirname "$dir")"
done

echo "-- pack (version suffix $suffix)"
step dotnet pack "$repo/src/MLNet.PromptTuning" -c Release -o "$work/feed" --version-suffix "$suffix" -v quiet
nupkg="$(ls "$work"/feed/MLNet.PromptTuning.*.nupkg)"
version="$(basename "$nupkg" .nupkg)"; version="${version#MLNet.PromptTuning.}"
echo "   $(basename "$nupkg"): $(( $(stat -c %s "$nupkg") / 1024 )) KB"

torchsharp="$(sed -n 's/.*Include="TorchSharp-cpu" Version="\([^"]*\)".*/\1/p' "$repo/Directory.Packages.props")"
mkdir "$work/app"
cp "$repo/.ci/package-consumer/PackageConsumer.csproj" "$repo/.ci/package-consumer/Program.cs" "$work/app/"
cat > "$work/app/nuget.config" <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="packed-library" value="$work/feed" />
  </packageSources>
</configuration>
CONFIG

echo "-- build the consumer app (MLNet.PromptTuning $version, TorchSharp-cpu $torchsharp)"
cd "$work/app"
step dotnet build -c Release -v quiet -nologo -clp:ErrorsOnly -p:PromptTuningVersion="$version" -p:TorchSharpCpuVersion="$torchsharp"
app=(dotnet bin/Release/net10.0/PackageConsumer.dll)
export XDG_CACHE_HOME="$work/cache"   # a fresh per-user cache: the first probe pays the first-use cost

echo "-- native library through the package (first use, then again)"
probe="$("${app[@]}" probe)" || fail "probe failed"
echo "   $probe"
echo "   $("${app[@]}" probe | tail -n 1)"

echo "-- train one epoch, save"
step "${app[@]}" train "$repo/samples/Assets" "$work/model.zip" "$work/predictions.tsv"
echo "-- load and predict in a fresh process"
step "${app[@]}" predict "$repo/samples/Assets" "$work/model.zip" "$work/predictions.tsv"

if grep -q "native fix: not needed" <<<"$probe"; then
  echo "-- this system's libstdc++ needs no adjustment; the fix-off check does not apply"
else
  echo "-- with the fix turned off, the same app must fail to load TorchSharp's native library"
  if off="$(MLNET_PROMPTTUNING_DISABLE_NATIVE_FIX=1 "${app[@]}" probe 2>&1)"; then
    fail "the app ran with the fix turned off, so the check above proves nothing"
  fi
  grep -q "LibTorchSharp" <<<"$off" || fail "the fix-off run failed for another reason: $off"
  echo "   failed as expected: $(grep -m1 -o "TypeInitializationException[^.]*" <<<"$off" || true)"
fi
echo "package consumer: passed"
