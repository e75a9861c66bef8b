// Shared by restore.js and save.js: inputs, the entry store, and the branches a run may read.
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const input = (name) => (process.env[`INPUT_${name.toUpperCase()}`] || '').trim();
const lines = (text) => text.split('\n').map((line) => line.trim()).filter(Boolean);
const paths = () => lines(input('path'));
const expand = (p) => path.resolve(process.env.GITHUB_WORKSPACE, p.replace(/^~(?=$|\/)/, os.homedir()));
const version = () => crypto.createHash('sha256').update(JSON.stringify(paths())).digest('hex');
const store = () => process.env.STANDIN_CACHE || path.join(os.homedir(), 'standin-cache');

function entries() {
  if (!fs.existsSync(store())) return [];
  return fs.readdirSync(store())
    .map((id) => ({ id, ...JSON.parse(fs.readFileSync(path.join(store(), id, 'meta.json'), 'utf8')) }))
    .sort((a, b) => b.created - a.created); // newest first
}

function readableRefs() {
  const refs = [process.env.GITHUB_REF];
  if (process.env.GITHUB_BASE_REF) refs.push(`refs/heads/${process.env.GITHUB_BASE_REF}`);
  refs.push('refs/heads/main');
  return [...new Set(refs.filter(Boolean))];
}

function output(name, value) {
  fs.appendFileSync(process.env.GITHUB_OUTPUT, `${name}=${value}\n`);
}

function saveState(name, value) {
  fs.appendFileSync(process.env.GITHUB_STATE, `${name}=${value}\n`);
}

module.exports = { input, lines, paths, expand, version, store, entries, readableRefs, output, saveState };
