// Before the tests that need a real Redis: make sure Debian's redis-server is there. When it is
// missing and this runs as root with apt-get (a fresh Debian machine or container), install it with
// scripts/install-debian-package.sh; otherwise say how, and fail before any test runs.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const server = process.env.REDIS_SERVER || '/usr/bin/redis-server';
if (fs.existsSync(server)) process.exit(0);

const root = typeof process.getuid === 'function' && process.getuid() === 0;
const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
if (root && apt) {
  console.log(`${server} is missing: installing Debian's redis-server (scripts/install-debian-package.sh)`);
  const run = spawnSync('sh', [path.join(__dirname, 'install-debian-package.sh'), 'redis-server', server], {
    stdio: 'inherit',
  });
  if (run.status === 0 && fs.existsSync(server)) process.exit(0);
}
console.error(
  `The cluster tests need a real Redis: ${server} was not found.\n` +
    `Install Debian's redis-server (apt-get install redis-server, or sh scripts/install-debian-package.sh redis-server /usr/bin/redis-server as root),\n` +
    `or point REDIS_SERVER at a redis-server binary.`,
);
process.exit(1);
