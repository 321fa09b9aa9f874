// Preloaded into the Node-RED the browser tests start (node --require): refuses every TCP connection
// to a host that is not loopback, before any DNS lookup, and says so on stderr. Examples deploy
// unedited, and an example that points at a provider's public URL must not reach it from a test.
'use strict';
const net = require('net');

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|::ffff:127(\.\d{1,3}){3}|\[::1\])$/i;

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  // net.connect/tls.connect pass one pre-normalised array; users pass (options) or (port, host)
  const list = Array.isArray(args[0]) ? args[0] : args;
  const first = list[0];
  const options = first !== null && typeof first === 'object' ? first : { port: first, host: list[1] };
  if (!options.path) {
    const host = options.host === undefined || options.host === '' ? 'localhost' : String(options.host);
    if (!LOOPBACK.test(host)) {
      const err = new Error(`e2e loopback guard: connection to ${host}:${options.port} refused`);
      err.code = 'ECONNREFUSED';
      process.stderr.write(`[e2e-guard] blocked ${host}:${options.port}\n`);
      process.nextTick(() => this.destroy(err));
      return this;
    }
  }
  return connect.apply(this, args);
};
