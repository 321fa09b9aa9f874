/**
 * Where each config type sends its secrets: the settings the "Test connection" endpoint compares with
 * the deployed node before it lets a stored secret be used (see admin.ts), each normalised exactly as
 * the node normalises it. Everything else (sender, solution id, WebSocket auth mode, API style, test
 * mode) changes what is asked, not who is asked. `proxy` is compared for every type in admin.ts.
 */
import type { DestinationSettings } from './admin';
import { authMode } from './cpaas/account';
import { redisUrl } from './cluster/url';
import { normaliseBase } from './cpaas/http';
import { esmsWebSocketUrl } from './esms/connection';
import { esmsRestUrl } from './esms/test-connection';
import { pbxBase } from './pbxware/provider';
import { privmxEndpoints } from './privmx/connection';
import { baseUrl } from './sms-gateway/api';
import { serviceUrl } from './smsapi/provider';

const text = (v: unknown) => (v === undefined || v === null ? '' : String(v).trim());

export const DESTINATIONS = {
  'privmx-bridge': { url: (v) => privmxEndpoints(text(v)).httpUrl },
  'sms-gateway': { url: (v) => baseUrl(text(v)) },
  // the socket's URL checks the scheme; the REST URL keeps what the API-key check uses
  'esms-africa': { url: (v) => esmsWebSocketUrl(text(v)) && esmsRestUrl(text(v), '') },
  'smsapi-account': { url: (v) => serviceUrl(text(v)) },
  'pbxware-server': { url: (v) => pbxBase(text(v)).toString(), tenant: text },
  'kandy-cpaas': { url: (v) => normaliseBase(text(v)), clientId: text, auth: (v) => authMode(v) },
  // the Redis password (and ACL user) go to this URL only; prefix and onError change nothing there
  'sms-cluster': { url: redisUrl },
} satisfies Record<string, DestinationSettings>;
