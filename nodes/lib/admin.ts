/**
 * "Test connection" admin endpoints for config nodes. Secrets travel in the POST body only; a
 * credential the editor shows as `__PWRD__` (or leaves empty) is taken from the stored credentials
 * of the node id, so an untouched dialog can be tested too.
 */
export const PASSWORD_PLACEHOLDER = '__PWRD__';

interface Request {
  body?: { id?: string; config?: Record<string, unknown>; credentials?: Record<string, unknown> };
}
interface Response {
  json(body: unknown): void;
  status(code: number): Response;
}
type Handler = (req: Request, res: Response, next?: () => void) => void;

/** The bits of RED the endpoint needs. */
export interface AdminRED {
  httpAdmin: { post(path: string, ...handlers: Handler[]): void };
  auth: { needsPermission(permission: string): Handler };
  nodes: { getCredentials(id: string): Record<string, unknown> | undefined };
}

export type ConnectionTest = (
  config: Record<string, unknown>,
  credentials: Record<string, string>,
  signal: AbortSignal,
) => Promise<string>;

export function testEndpointPath(type: string): string {
  return `/sms-notify/test/${encodeURIComponent(type)}`;
}

export function resolveCredentials(
  RED: Pick<AdminRED, 'nodes'>,
  id: string | undefined,
  keys: readonly string[],
  given: Record<string, unknown> = {},
): Record<string, string> {
  const stored = (id && RED.nodes.getCredentials(id)) || {};
  const out: Record<string, string> = {};
  for (const key of keys) {
    const value = given[key];
    const useStored = value === undefined || value === '' || value === PASSWORD_PLACEHOLDER;
    const chosen = useStored ? stored[key] : value;
    if (typeof chosen === 'string' && chosen !== '') out[key] = chosen;
  }
  return out;
}

/** Register POST /sms-notify/test/<type>; answers {ok:true,message} or {ok:false,error,code}. */
export function registerTestEndpoint(
  RED: AdminRED,
  type: string,
  credentialKeys: readonly string[],
  test: ConnectionTest,
  timeoutMs = 15_000,
): void {
  RED.httpAdmin.post(testEndpointPath(type), RED.auth.needsPermission(`${type}.write`), (req, res) => {
    const body = req.body ?? {};
    const credentials = resolveCredentials(RED, body.id, credentialKeys, body.credentials);
    const signal = AbortSignal.timeout(timeoutMs);
    test(body.config ?? {}, credentials, signal).then(
      (message) => res.json({ ok: true, message }),
      (err: unknown) => {
        const e = err as { message?: string; code?: string };
        res.json({ ok: false, error: e?.message || String(err), code: e?.code });
      },
    );
  });
}
