const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const c = require('./common.js');

const key = process.env.STATE_CACHE_KEY;
const matched = process.env.STATE_CACHE_RESULT || '';
if (matched && matched.localeCompare(key, undefined, { sensitivity: 'accent' }) === 0) {
  console.log(`Cache hit occurred on the primary key ${key}, not saving cache.`);
  process.exit(0);
}
const ref = process.env.GITHUB_REF;
if (c.entries().some((e) => e.key === key && e.ref === ref && e.version === c.version())) {
  console.log(`Failed to save: Unable to reserve cache with key ${key}, another job may be creating this cache.`);
  process.exit(0);
}
const existing = c.paths().filter((p) => fs.existsSync(c.expand(p)));
if (existing.length === 0) {
  console.log('[warning]Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved.');
  process.exit(0);
}
const id = `${Date.now()}-${process.pid}`;
const folder = path.join(c.store(), id);
fs.mkdirSync(path.join(folder, 'files'), { recursive: true });
c.paths().forEach((p, i) => {
  if (fs.existsSync(c.expand(p))) execFileSync('cp', ['-al', c.expand(p), path.join(folder, 'files', String(i))]);
});
fs.writeFileSync(path.join(folder, 'meta.json'), JSON.stringify({ key, ref, version: c.version(), created: Date.now() }));
console.log(`Cache saved with key: ${key}`);
