import { createHash } from 'node:crypto';

/** A Lua script run with EVALSHA, loaded with EVAL when the server does not know it (NOSCRIPT). */
export interface LuaScript {
  source: string;
  sha1: string;
}

function script(source: string): LuaScript {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

// Time comes from Redis (TIME), never from the instances: their clocks may disagree.
const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * A token bucket per sink node, shared by every instance: `capacity` tokens per minute, refilled
 * continuously, a burst may use the whole bucket (the same rules as the local RateLimiter).
 * KEYS[1] the bucket; ARGV[1] capacity; ARGV[2] 'take' or 'refund'. Returns 1 (taken/refunded) or 0.
 */
export const TOKEN_BUCKET = script(`${NOW_MS}local cap = tonumber(ARGV[1])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = cap
  ts = now
end
if now > ts then
  tokens = math.min(cap, tokens + (now - ts) * cap / 60000)
  ts = now
end
local ok = 0
if ARGV[2] == 'refund' then
  tokens = math.min(cap, tokens + 1)
  ok = 1
elseif tokens >= 1 then
  tokens = tokens - 1
  ok = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], 61000)
return ok
`);

/**
 * One instance's heartbeat: its id scored with the Redis time in a sorted set; members older than
 * the TTL are dropped. KEYS[1] the set; ARGV[1] instance id; ARGV[2] TTL ms. Returns the live count.
 */
export const HEARTBEAT = script(`${NOW_MS}redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('ZCARD', KEYS[1])
`);
