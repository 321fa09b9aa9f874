/**
 * "Test connection" admin endpoints for config nodes. Secrets travel in the POST body (JSON only).
 *
 * A credential the editor shows as `__PWRD__` (or leaves empty) may be taken from the stored
 * credentials, but ONLY when the request names a deployed node of the endpoint's own type and every
 * setting that decides where the secret goes (its destination: URL, tenant, client id, auth mode,
 * proxy) equals what that node was deployed with. Otherwise the secret must be typed again, and the
 * answer says so without sending anything: no admin request can send a stored secret to an address
 * the node was not deployed to send it to.
 */
import { Network, proxyChoice } from './proxy';
import { redactUrl } from './safe-url';

export const PASSWORD_PLACEHOLDER = '__PWRD__';
/** the answer's code when a stored secret may not be used for this request */
export const CREDENTIALS_REQUIRED = 'CREDENTIALS_REQUIRED';

type Json = Record<string, unknown>;

interface Request {
  body?: unknown;
  headers?: Record<string, string | string[] | undefined>;
}
interface Response {
  json(body: unknown): void;
  status(code: number): Response;
}
type Handler = (req: Request, res: Response, next?: () => void) => void;
/**
 * Node-RED's permission middleware, passed on to `httpAdmin.post` untouched: its parameters are
 * Express's, which this file never calls, hence `never`.
 */
type PermissionCheck = (req: never, res: never, next: never) => void;

/** The bits of RED the endpoint needs (Node-RED's RED fits this shape as it is). */
export interface AdminRED {
  httpAdmin: { post(path: string, permission: PermissionCheck, handler: Handler): void };
  auth: { needsPermission(permission: string): PermissionCheck };
  nodes: {
    getCredentials(id: string): object | undefined;
    getNode(id: string): { type?: string } | null | undefined;
  };
  _(key: string, params?: Record<string, string | number>): string;
}

export type ConnectionTest = (
  config: Json,
  credentials: Record<string, string>,
  signal: AbortSignal,
  /** the request's `proxy` id resolved to the DEPLOYED `http proxy` node (never a URL from the request) */
  network: Network,
) => Promise<string>;

/**
 * The settings of a config type that decide where its secrets are sent, each with the normalisation
 * the node itself applies (so `https://h/` and ` https://h` compare equal). A normaliser that throws
 * means "no valid destination": it never matches.
 */
export type DestinationSettings = Record<string, (value: unknown) => string>;

/**
 * Every config type: the id of a Node-RED `http proxy` node, when the type has one (the editor's
 * select says `_ADD_` when none is chosen; the saved node then has none).
 */
const COMMON_DESTINATION: DestinationSettings = {
  proxy: (v) => (typeof v === 'string' && v.trim() !== '_ADD_' ? v.trim() : ''),
};

export interface TestEndpointOptions {
  type: string;
  credentialKeys: readonly string[];
  destination: DestinationSettings;
  test: ConnectionTest;
  timeoutMs?: number;
}

export interface TestEndpoint {
  /** Call from the config node's constructor: remembers the destination this node was deployed with. */
  deployed(node: object, config: object): void;
}

export function testEndpointPath(type: string): string {
  return `/sms-notify/test/${encodeURIComponent(type)}`;
}

/** The normalised destination of a configuration (undefined entries never match). */
export function destinationOf(
  settings: DestinationSettings,
  config: object,
): Record<string, string | undefined> {
  const all = { ...COMMON_DESTINATION, ...settings };
  const values = config as Json;
  const out: Record<string, string | undefined> = {};
  for (const [key, normalise] of Object.entries(all)) {
    try {
      out[key] = normalise(Object.prototype.hasOwnProperty.call(values, key) ? values[key] : undefined);
    } catch {
      out[key] = undefined;
    }
  }
  return out;
}

export function sameDestination(
  a: Record<string, string | undefined>,
  b: Record<string, string | undefined> | undefined,
): boolean {
  if (!b) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if (a[key] === undefined || a[key] !== b[key]) return false;
  return true;
}

const isStored = (value: unknown) => value === undefined || value === '' || value === PASSWORD_PLACEHOLDER;

/**
 * The credentials a test uses. `stored` is the deployed node's (only when it may be used): placeholders
 * and empty fields take its values. Without it, typed values only; a placeholder, or nothing typed at
 * all, means the secret must be entered again (undefined).
 */
export function resolveCredentials(
  keys: readonly string[],
  given: Json,
  stored: Record<string, unknown> | undefined,
  /** the credentials as saved (`${NAME}` unresolved): a field sent back unchanged counts as untouched */
  raw: Record<string, unknown> = {},
): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let typed = 0;
  for (const key of keys) {
    const value = given[key];
    if (stored) {
      const untouched = isStored(value) || (typeof value === 'string' && value === raw[key]);
      const chosen = untouched ? stored[key] : value;
      if (typeof chosen === 'string' && chosen !== '') out[key] = chosen;
      continue;
    }
    if (value === PASSWORD_PLACEHOLDER) return undefined;
    if (typeof value === 'string' && value !== '') {
      out[key] = value;
      typed++;
    }
  }
  return stored || typed > 0 ? out : undefined;
}

// ------------------------------------------------------------------------------ request checks

const MAX_STRING = 4096;
const MAX_KEYS = 64;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export class BadRequest extends Error {
  constructor(
    readonly status: 400 | 415,
    readonly key: string,
  ) {
    super(key);
  }
}

function isJson(req: Request): boolean {
  const type = req.headers?.['content-type'];
  const text = Array.isArray(type) ? type[0] : type;
  return typeof text === 'string' && /^application\/json\s*(;|$)/i.test(text.trim());
}

/** A flat object of scalars from the body, copied onto a null prototype; anything else is a 400. */
function flatObject(value: unknown): Json {
  if (value === undefined || value === null) return Object.create(null) as Json;
  if (typeof value !== 'object' || Array.isArray(value)) throw new BadRequest(400, 'badRequest');
  const entries = Object.entries(value as Json);
  if (entries.length > MAX_KEYS) throw new BadRequest(400, 'badRequest');
  const out = Object.create(null) as Json;
  for (const [key, v] of entries) {
    if (FORBIDDEN_KEYS.has(key)) throw new BadRequest(400, 'badRequest');
    const scalar = v === null || ['string', 'number', 'boolean'].includes(typeof v);
    if (!scalar || (typeof v === 'string' && v.length > MAX_STRING)) throw new BadRequest(400, 'badRequest');
    out[key] = v;
  }
  return out;
}

/** The parts of a test request, checked: JSON, an object body, a short string id, flat objects. */
export function parseTestRequest(req: Request): { id?: string; config: Json; credentials: Json } {
  if (!isJson(req)) throw new BadRequest(415, 'jsonOnly');
  const body = req.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new BadRequest(400, 'badRequest');
  const top = Object.keys(body);
  if (top.length > MAX_KEYS || top.some((key) => FORBIDDEN_KEYS.has(key)))
    throw new BadRequest(400, 'badRequest');
  const { id, config, credentials } = body as Json;
  if (id !== undefined && id !== null && id !== '' && (typeof id !== 'string' || id.length > 128))
    throw new BadRequest(400, 'badRequest');
  return {
    id: typeof id === 'string' && id ? id : undefined,
    config: flatObject(config),
    credentials: flatObject(credentials),
  };
}

// ------------------------------------------------------------------------------------ endpoint

/** Register POST /sms-notify/test/<type>; answers {ok:true,message} or {ok:false,error,code,key?}. */
export function registerTestEndpoint(RED: AdminRED, options: TestEndpointOptions): TestEndpoint {
  const { type, credentialKeys, destination, test, timeoutMs = 15_000 } = options;
  const deployedAt = new WeakMap<object, Record<string, string | undefined>>();

  /** the stored credentials of `id`, when this request may use them */
  const usableStored = (id: string | undefined, config: Json) => {
    if (!id) return undefined;
    const node = RED.nodes.getNode(id);
    if (!node || node.type !== type) return undefined;
    if (!sameDestination(destinationOf(destination, config), deployedAt.get(node))) return undefined;
    // the deployed node's credentials: Node-RED has put the values of ${NAME} references in them
    const deployed = (node as { credentials?: Record<string, unknown> }).credentials ?? {};
    return { values: deployed, raw: { ...RED.nodes.getCredentials(id) } };
  };

  RED.httpAdmin.post(testEndpointPath(type), RED.auth.needsPermission(`${type}.write`), (req, res) => {
    let parsed: ReturnType<typeof parseTestRequest>;
    try {
      parsed = parseTestRequest(req);
    } catch (err) {
      const e = err instanceof BadRequest ? err : new BadRequest(400, 'badRequest');
      const key = `common.test.${e.key}`;
      res.status(e.status).json({ ok: false, error: RED._(key), code: 'BAD_REQUEST', key });
      return;
    }
    const usable = usableStored(parsed.id, parsed.config);
    const credentials = resolveCredentials(credentialKeys, parsed.credentials, usable?.values, usable?.raw);
    if (!credentials) {
      // a stored secret that may not go there, or no secret at all (a new, empty dialog)
      const stored = Object.values(parsed.credentials).includes(PASSWORD_PLACEHOLDER);
      const key = stored ? 'common.test.credentialsRequired' : 'common.test.credentialsMissing';
      // `key`: the editor shows the text in its own language (error: the runtime's)
      res.json({ ok: false, error: RED._(key), code: CREDENTIALS_REQUIRED, key });
      return;
    }
    const signal = AbortSignal.timeout(timeoutMs);
    const network = new Network(proxyChoice(parsed.config.proxy, (id) => RED.nodes.getNode(id)));
    let running: Promise<string>;
    try {
      running = test(parsed.config, credentials, signal, network);
    } catch (err) {
      running = Promise.reject(err);
    }
    running = running.finally(() => network.close());
    running.then(
      (message) => res.json({ ok: true, message: redactUrl(String(message)) }),
      (err: unknown) => {
        const e = err as { message?: string; code?: unknown };
        res.json({
          ok: false,
          error: redactUrl(e?.message || String(err)),
          code: typeof e?.code === 'string' || typeof e?.code === 'number' ? e.code : undefined,
        });
      },
    );
  });

  return {
    deployed(node, config) {
      deployedAt.set(node, destinationOf(destination, config));
    },
  };
}
