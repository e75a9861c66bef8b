const fs = require('fs');
const path = require('path');

const input = (name) => (process.env[`INPUT_${name.toUpperCase()}`] || '').trim();
const fail = (message) => { console.log(`::error::${message}`); process.exit(1); };

const searchPaths = input('path').split('\n').map((p) => p.trim()).filter(Boolean)
  .map((p) => path.resolve(process.env.GITHUB_WORKSPACE, p.replace(/^~(?=$|\/)/, process.env.HOME)));
if (searchPaths.some((p) => /[*?[\]]/.test(p))) fail('stand-in: wildcard paths are not supported');
const hidden = input('include-hidden-files') !== 'true';
const mode = input('if-no-files-found') || 'warn';
if (!['warn', 'error', 'ignore'].includes(mode)) {
  fail(`Unrecognized if-no-files-found input. Provided: ${mode}. Available options: warn,error,ignore`);
}
const level = Number(input('compression-level') || '6');
if (!(level >= 0 && level <= 9)) fail('Invalid compression-level. Valid values are 0-9');

function walk(p, found) {
  if (!fs.existsSync(p) || (hidden && path.basename(p).startsWith('.'))) return found;
  if (fs.statSync(p).isDirectory()) fs.readdirSync(p).forEach((name) => walk(path.join(p, name), found));
  else found.push(p);
  return found;
}
const files = searchPaths.flatMap((p) => walk(p, []));
let root;
if (searchPaths.length === 1) {
  const only = searchPaths[0];
  root = fs.existsSync(only) && fs.statSync(only).isDirectory() ? only : path.dirname(only);
} else {
  root = searchPaths.reduce((common, p) => {
    while (!(p + path.sep).startsWith(common + path.sep)) common = path.dirname(common);
    return common;
  });
}
if (files.length === 0) {
  const message = `No files were found with the provided path: ${input('path')}. No artifacts will be uploaded.`;
  if (mode === 'error') fail(message);
  console.log(mode === 'warn' ? `::warning::${message}` : message);
  process.exit(0);
}
let name = input('name') || 'artifact';
if (input('archive') === 'false') {
  if (files.length !== 1) fail(`When 'archive' is set to false, only a single file can be uploaded. Found ${files.length} files to upload.`);
  name = path.basename(files[0]);
}
if (/["\:<>|*?\r\n\\/]/.test(name)) fail(`The artifact name is not valid: ${name}`);
const destination = path.join(process.env.STANDIN_ARTIFACTS, process.env.GITHUB_RUN_ID, name);
if (fs.existsSync(destination)) {
  if (input('overwrite') !== 'true') {
    fail('Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: an artifact with this name already exists on the workflow run');
  }
  fs.rmSync(destination, { recursive: true });
}
for (const file of files) {
  const target = path.join(destination, path.relative(root, file));
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.copyFileSync(file, target);
}
fs.appendFileSync(process.env.GITHUB_OUTPUT, `artifact-id=${Date.now()}\n`);
console.log(`Artifact ${name} has been successfully uploaded! ${files.length} files.`);
