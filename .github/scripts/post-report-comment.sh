#!/usr/bin/env bash
# Post the pull-request report (a folder from the "Pull request" run's artifact) as the one report
# comment of its pull request, edited in place on every push. Run by `make pr-comment`.
#
# The artifact was written by the pull request's own code, so nothing in it is trusted: the pull
# request number must be digits, and that pull request's head must be the commit the run tested
# (HEAD_SHA, from the workflow_run event), or nothing is posted.
#
# Environment: REPO_TOKEN, GITHUB_REPOSITORY, HEAD_SHA; GITHUB_API_URL (default api.github.com);
# REPORT_IMAGES (publish | artifact; default publish for a public repository, artifact for a
# private one, per REPOSITORY_PRIVATE); CML (the cml command); WATERMARK (the comment's title).
set -euo pipefail

report_dir=${1:?usage: post-report-comment.sh REPORT_DIR}
api=${GITHUB_API_URL:-https://api.github.com}

pr=$(cat "$report_dir/pr-number.txt" 2>/dev/null || true)
if [[ ! $pr =~ ^[0-9]+$ ]]; then
  echo "pr-comment: $report_dir/pr-number.txt holds no pull request number: not posting" >&2
  exit 1
fi

head=$(curl --fail --silent --show-error --max-time 30 \
  -H "Authorization: Bearer $REPO_TOKEN" -H "Accept: application/vnd.github+json" \
  "$api/repos/$GITHUB_REPOSITORY/pulls/$pr" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["head"]["sha"])')
if [[ $head != "$HEAD_SHA" ]]; then
  echo "pr-comment: pull request #$pr is at $head, not at the tested commit $HEAD_SHA: not posting" >&2
  exit 1
fi

images=${REPORT_IMAGES:-}
if [[ -z $images ]]; then
  # Unknown counts as private: images are never sent to a public host by default.
  [[ ${REPOSITORY_PRIVATE:-true} == false ]] && images=publish || images=artifact
fi
case $images in
  publish) report=$report_dir/report.md ;;  # CML uploads the plots to its public asset host
  artifact) report=$report_dir/report-no-images.md ;;  # the plots stay in the run's artifact
  *) echo "pr-comment: REPORT_IMAGES must be publish or artifact, not '$images'" >&2; exit 1 ;;
esac

read -r -a cml <<<"${CML:-cml}"
"${cml[@]}" comment update --target="pr/$pr" --watermark-title="${WATERMARK:-Model report}" "$report"
echo "pr-comment: posted $report to pull request #$pr (images: $images)"
