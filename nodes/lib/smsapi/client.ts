import fs from 'node:fs';
import vm from 'node:vm';
import { SMSAPI } from 'smsapi';
import { defaultNetwork, type Network } from '../proxy';

/**
 * The official `smsapi` client with the fetch of one config node's Network (proxy or direct).
 *
 * The client (2.1.3, pinned) takes no agent, dispatcher or fetch: its HTTP layer calls the global
 * `fetch` by name. Replacing the global would move every other package's traffic too, so instead its
 * one self-contained CommonJS file is evaluated once more with `fetch` bound as a function parameter
 * (vm.compileFunction, the same wrapper Node's own module loader uses): the client's code is
 * unchanged, only the name `fetch` inside it means this Network's fetch. One copy per Network,
 * created on first use.
 *
 * That fetch refuses redirects (`redirect: 'error'`): the token never follows one, not even to the
 * same host, like every other request of this package that carries a secret. It also spares fetch a
 * copy of every request body (it clones a request it might have to send again after a redirect).
 */
type SmsapiExports = { SMSAPI: typeof SMSAPI };
type ModuleFactory = (
  exports: object,
  require: NodeRequire,
  module: { exports: object },
  filename: string,
  dirname: string,
  fetch: typeof globalThis.fetch,
) => void;

let factory: ModuleFactory | undefined;
const copies = new WeakMap<Network, typeof SMSAPI>();

function compile(): ModuleFactory {
  const filename = require.resolve('smsapi');
  const source = fs.readFileSync(filename, 'utf8');
  return vm.compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname', 'fetch'], {
    filename,
  }) as unknown as ModuleFactory;
}

function clientClassFor(network: Network): typeof SMSAPI {
  let copy = copies.get(network);
  if (!copy) {
    factory ??= compile();
    const module = { exports: {} as SmsapiExports };
    const filename = require.resolve('smsapi');
    const noRedirects: typeof fetch = (input, init) => network.fetch(input, { ...init, redirect: 'error' });
    factory(module.exports, require, module, filename, filename.replace(/[\\/][^\\/]*$/, ''), noRedirects);
    copy = module.exports.SMSAPI;
    copies.set(network, copy);
  }
  return copy;
}

export function smsapiClient(token: string, url: string, network: Network = defaultNetwork): SMSAPI {
  const Client = clientClassFor(network);
  return new Client(token, url);
}
