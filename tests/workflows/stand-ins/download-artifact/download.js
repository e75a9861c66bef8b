const fs = require('fs');
const path = require('path');

const input = (name) => (process.env[`INPUT_${name.toUpperCase()}`] || '').trim();
const fail = (message) => { console.log(`::error::${message}`); process.exit(1); };

const name = input('name');
if (name && input('artifact-ids')) fail("Inputs 'name' and 'artifact-ids' cannot be used together. Please specify only one.");
if (input('artifact-ids')) fail('stand-in: artifact-ids is not supported');
let run = process.env.GITHUB_RUN_ID;
if (input('github-token')) {
  if (input('repository') !== process.env.GITHUB_REPOSITORY) fail('stand-in: artifacts of other repositories are not served');
  run = input('run-id');
}
const destination = path.resolve(input('path').replace(/^~(?=$|\/)/, process.env.HOME) || process.env.GITHUB_WORKSPACE);
const stored = path.join(process.env.STANDIN_ARTIFACTS, run);
const copy = (from, to) => { fs.mkdirSync(to, { recursive: true }); fs.cpSync(from, to, { recursive: true }); };
if (name) {
  if (!fs.existsSync(path.join(stored, name))) {
    fail(`Unable to download artifact(s): Artifact not found for name: ${name}\n        Please ensure that your artifact is not expired and the artifact was uploaded using a compatible version of toolkit/upload-artifact.`);
  }
  copy(path.join(stored, name), destination);
} else {
  const glob = new RegExp('^' + (input('pattern') || '*').replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  const names = fs.existsSync(stored) ? fs.readdirSync(stored).filter((n) => glob.test(n)) : [];
  const merged = input('merge-multiple') === 'true' || names.length === 1;
  names.forEach((n) => copy(path.join(stored, n), merged ? destination : path.join(destination, n)));
  console.log(`Total of ${names.length} artifact(s) downloaded`);
}
fs.appendFileSync(process.env.GITHUB_OUTPUT, `download-path=${destination}\n`);
