/**
 * The Lua scripts of the Redis parameter server. Redis runs a script atomically, so a shard is read,
 * updated and written back with no other client in between: updates are never GET-then-SET from a
 * client. Parameters are raw little-endian float64 strings, read and written with Redis 7's Lua
 * `struct` library; Lua numbers are IEEE doubles, so `a + b` here rounds exactly as JavaScript does,
 * and a sum taken in the same order gives the same bits as the thread engine's.
 *
 * Scripts are sent once and then called by SHA (ioredis `defineCommand` uses EVALSHA and falls back
 * to EVAL when Redis has forgotten the script, e.g. after a restart).
 */
import type { Redis } from 'ioredis';

/**
 * Unpacking and packing float64 strings in chunks: `unpack` and multiple returns go through Lua's
 * C stack, which holds a few thousand values, so a shard is never moved in one call.
 */
const LUA_CODEC = `
local CHUNK = 64
local FMT = '<' .. string.rep('d', CHUNK)
local function decode(s)
  local v = {}
  local n = #s / 8
  local pos = 1
  local i = 0
  while i < n do
    local m = math.min(n - i, CHUNK)
    local t = {struct.unpack(m == CHUNK and FMT or ('<' .. string.rep('d', m)), s, pos)}
    for j = 1, m do v[i + j] = t[j] end
    pos = t[m + 1]
    i = i + m
  end
  return v, n
end
local function add(v, n, s)
  if #s == 0 then
    -- A worker that pushed nothing this clock adds zeros, as the thread engine does (it turns a
    -- parameter of -0 into +0, and the bits must match).
    for j = 1, n do v[j] = v[j] + 0 end
    return
  end
  local pos = 1
  local i = 0
  while i < n do
    local m = math.min(n - i, CHUNK)
    local t = {struct.unpack(m == CHUNK and FMT or ('<' .. string.rep('d', m)), s, pos)}
    for j = 1, m do v[i + j] = v[i + j] + t[j] end
    pos = t[m + 1]
    i = i + m
  end
end
local function encode(v, n)
  local parts = {}
  local i = 0
  while i < n do
    local m = math.min(n - i, CHUNK)
    parts[#parts + 1] = struct.pack(m == CHUNK and FMT or ('<' .. string.rep('d', m)), unpack(v, i + 1, i + m))
    i = i + m
  end
  return table.concat(parts)
end
`;

/**
 * ASP push of one shard: adds the delta into the shard at once.
 * KEYS: shard, abort. ARGV: delta bytes. Returns 1, or -1 when the loop was aborted.
 */
const ASP_ADD = `${LUA_CODEC}
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local cur = redis.call('GET', KEYS[1])
if not cur then return redis.error_reply('parameter shard ' .. KEYS[1] .. ' is missing') end
if #ARGV[1] ~= #cur then
  return redis.error_reply('delta of ' .. #ARGV[1] .. ' bytes for shard ' .. KEYS[1] .. ' of ' .. #cur .. ' bytes')
end
local v, n = decode(cur)
add(v, n, ARGV[1])
redis.call('SET', KEYS[1], encode(v, n))
return 1
`;

/**
 * BSP/SSP push and clock of one shard by worker w at the end of its clock c. The delta waits in a
 * hash of clock c's deltas; the worker whose arrival completes the hash applies every worker's
 * delta in worker order 0..W-1 (an empty delta counts as zeros) and deletes the hash. The apply of
 * the last of the K shards marks clock c applied and publishes it.
 *
 * When the shard already holds every clock before `target` (clock c − s + 1: the caller need not
 * wait for it), the reply carries the shard's bytes too, and, if more keys are given, every
 * worker's clock: the caller then has its next pull without another round trip.
 *
 * KEYS: shard, deltas of (shard, c), clock of w, shards done with c, applied, abort, clocks the
 * shard has applied, then optionally every worker's clock.
 * ARGV: w, c, W, K, delta bytes, channel, target.
 * Returns {applied} (the clocks applied to every shard), {applied, shard, clocks...}, or {-1} when
 * the loop was aborted.
 */
const SYNC_CLOCK = `${LUA_CODEC}
if redis.call('EXISTS', KEYS[6]) == 1 then return {-1} end
local c = tonumber(ARGV[2])
local W = tonumber(ARGV[3])
redis.call('SET', KEYS[3], c + 1)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[5])
local applied
if redis.call('HLEN', KEYS[2]) < W then
  applied = tonumber(redis.call('GET', KEYS[5]) or '0')
else
  local cur = redis.call('GET', KEYS[1])
  if not cur then return redis.error_reply('parameter shard ' .. KEYS[1] .. ' is missing') end
  local v, n = decode(cur)
  for w = 0, W - 1 do
    local d = redis.call('HGET', KEYS[2], tostring(w))
    if #d ~= 0 and #d ~= #cur then
      return redis.error_reply('delta of ' .. #d .. ' bytes for shard ' .. KEYS[1] .. ' of ' .. #cur .. ' bytes')
    end
    add(v, n, d)
  end
  redis.call('SET', KEYS[1], encode(v, n))
  redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[7], c + 1)
  if redis.call('INCR', KEYS[4]) == tonumber(ARGV[4]) then
    redis.call('DEL', KEYS[4])
    redis.call('SET', KEYS[5], c + 1)
    redis.call('PUBLISH', ARGV[6], c + 1)
    applied = c + 1
  else
    applied = tonumber(redis.call('GET', KEYS[5]) or '0')
  end
end
if tonumber(redis.call('GET', KEYS[7]) or '0') < tonumber(ARGV[7]) then return {applied} end
local out = {applied, redis.call('GET', KEYS[1])}
for i = 8, #KEYS do out[#out + 1] = redis.call('GET', KEYS[i]) or '0' end
return out
`;

/** A connection with the parameter server's scripts defined. */
export interface PsRedis extends Redis {
  psAspAdd(shard: string, abort: string, delta: Buffer): Promise<number>;
  /** Arguments: the number of keys, the keys, then ARGV (see SYNC_CLOCK); replies as Buffers. */
  psSyncClockBuffer(...args: (string | number | Buffer)[]): Promise<(number | Buffer)[]>;
}

const defined = new WeakSet<Redis>();

/** `redis` with the scripts defined (once per connection). */
export function withScripts(redis: Redis): PsRedis {
  if (!defined.has(redis)) {
    redis.defineCommand('psAspAdd', { numberOfKeys: 2, lua: ASP_ADD });
    // The number of keys varies (the clocks ride along on one shard's call), so it comes first.
    redis.defineCommand('psSyncClock', { lua: SYNC_CLOCK });
    defined.add(redis);
  }
  return redis as PsRedis;
}
