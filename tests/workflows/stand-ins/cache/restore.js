const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const c = require('./common.js');

const key = c.input('key');
const restoreKeys = c.lines(c.input('restore-keys'));
const keys = [key, ...restoreKeys];
for (const k of keys) {
  if (k.length > 512) fail(`Key Validation Error: ${k} cannot be larger than 512 characters.`);
  if (k.includes(',')) fail(`Key Validation Error: ${k} cannot contain commas.`);
}
if (keys.length > 10) fail('Key Validation Error: Keys are limited to a maximum of 10.');
c.saveState('CACHE_KEY', key);

const same = (a, b) => a.localeCompare(b, undefined, { sensitivity: 'accent' }) === 0;
let found = null;
for (const ref of c.readableRefs()) {
  const here = c.entries().filter((e) => e.ref === ref && e.version === c.version());
  found = here.find((e) => same(e.key, key)) || here.find((e) => e.key.startsWith(key));
  for (const restoreKey of restoreKeys) {
    found = found || here.find((e) => same(e.key, restoreKey)) || here.find((e) => e.key.startsWith(restoreKey));
  }
  if (found) break;
}
if (!found) {
  if (c.input('fail-on-cache-miss') === 'true') {
    fail(`Failed to restore cache entry. Exiting as fail-on-cache-miss is set. Input key: ${key}`);
  }
  console.log(`Cache not found for input keys: ${keys.join(', ')}`);
  process.exit(0); // cache-hit stays unset on a miss, as in the real action
}
c.saveState('CACHE_RESULT', found.key);
if (c.input('lookup-only') !== 'true') {
  c.paths().forEach((p, i) => {
    const saved = path.join(c.store(), found.id, 'files', String(i));
    if (!fs.existsSync(saved)) return;
    fs.mkdirSync(path.dirname(c.expand(p)), { recursive: true });
    execFileSync('cp', ['-al', '--no-target-directory', saved, c.expand(p)]);
  });
}
c.output('cache-hit', String(same(found.key, key)));
console.log(`Cache restored from key: ${found.key}`);

function fail(message) {
  console.log(`::error::${message}`);
  process.exit(1);
}
