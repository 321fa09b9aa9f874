// `npm run bench` launcher: registers tsx so the TypeScript orchestrator (bench/run.ts) runs as is.
'use strict';
require('tsx/cjs');
const { main } = require('./run.ts');

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err && err.stack ? err.stack : err);
    process.exitCode = 1;
  },
);
