#!/usr/bin/env bash
# Before deploy-pages: is GitHub Pages enabled for this repository, with
# "GitHub Actions" as its source? Without that one-time setting the deploy
# fails with an error that does not say what to do; this says it (as a
# workflow error annotation and in the job summary) and fails the job.
# Needs gh and GH_TOKEN (the job's token, with pages: read or write).
set -uo pipefail
repo=${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set}
branch=${HISTORY_BRANCH:-nightly-history}
setup='Settings → Pages → Build and deployment → Source: "GitHub Actions" (once per repository, by an admin)'

say() { # title, text
	echo "::error title=$1::$2"
	if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then printf '### %s\n\n%s\n' "$1" "$2" >>"$GITHUB_STEP_SUMMARY"; fi
}

if ! source=$(gh api "repos/$repo/pages" --jq .build_type 2>&1); then
	if grep -q '404' <<<"$source"; then
		say 'GitHub Pages is not enabled' "The nightly history pages of $repo cannot be deployed: GitHub Pages is not enabled. To publish them: $setup. The nights themselves are committed to the branch $branch either way."
	else
		say 'GitHub Pages could not be checked' "Asking GitHub about the Pages site of $repo failed: $source. If Pages is not set up yet: $setup."
	fi
	exit 1
fi
if [ "$source" != workflow ]; then
	say 'GitHub Pages publishes from a branch' "GitHub Pages of $repo is set to '$source' (deploy from a branch), so this workflow cannot deploy to it. Change it: $setup."
	exit 1
fi
echo "GitHub Pages of $repo: source is GitHub Actions"
