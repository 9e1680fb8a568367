"""The Lua scripts behind the Redis store: each check-and-change runs as one script, so it is atomic.

Every script takes the tenant's key prefix as ARGV[1]; the key layout is described in state/redis.py.
"""

from __future__ import annotations

__all__ = ["BEGIN", "FIND_EARLIER", "FIND_UNRESOLVED", "FINISH", "MARK_UNKNOWN", "RECENT_TO_RECIPIENT"]

# Shared by the scripts: an attempt's hash, or nil when it is gone or was released.
_LIVE = """
local function live(p, id)
  local status = redis.call('HGET', p .. 'a:' .. id, 'status')
  if (not status) or status == 'released' then return nil end
  return id
end
local function latest(p, zkey, since)
  local ids = redis.call('ZREVRANGEBYSCORE', zkey, '+inf', '(' .. since)
  for _, id in ipairs(ids) do
    if live(p, id) then return id end
  end
  return nil
end
local function unresolved(p, zkey, stale_before)
  local found = redis.call('ZREVRANGE', zkey, 0, -1, 'WITHSCORES')
  for i = 1, #found, 2 do
    local status = redis.call('HGET', p .. 'a:' .. found[i], 'status')
    if status == 'unknown' or (status == 'pending' and tonumber(found[i + 1]) <= stale_before) then
      return found[i]
    end
  end
  return nil
end
"""

# Shared: puts a pending attempt on the books (its hash, indexes, used confirmation, reservation and open entry).
_CREATE = """
local function create(p, raw, keep, now)
  local a = cjson.decode(raw)
  local hash = p .. 'a:' .. a.id
  redis.call('HSET', hash, 'attempt', raw, 'status', 'pending')
  redis.call('EXPIRE', hash, keep)
  local indexes = {p .. 'fp:' .. a.fingerprint, p .. 'to:' .. a.recipient}
  if a.idempotency_key ~= cjson.null then table.insert(indexes, p .. 'key:' .. a.idempotency_key) end
  for _, index in ipairs(indexes) do
    redis.call('ZADD', index, a.created_at, a.id)
    redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. (now - keep))
    redis.call('EXPIRE', index, keep)
  end
  if a.confirmation_id ~= cjson.null then
    redis.call('SET', p .. 'conf:' .. a.confirmation_id, a.id, 'EX', keep)
  end
  redis.call('INCRBY', p .. 'spent:' .. a.day, a.reserved_micro)
  redis.call('EXPIRE', p .. 'spent:' .. a.day, keep)
  redis.call('SADD', p .. 'open', a.id)
end
-- Redis lost an attempt while its POST was in flight (restarted without persistence, flushed): book it again.
local function recreate(p, id, raw, keep)
  if redis.call('EXISTS', p .. 'a:' .. id) == 0 and raw and raw ~= '' then
    create(p, raw, keep, cjson.decode(raw).created_at)
  end
end
"""

BEGIN = (
    _LIVE
    + _CREATE
    + """
local p = ARGV[1]
local a = cjson.decode(ARGV[2])
local budget, max_per_hour = tonumber(ARGV[3]), tonumber(ARGV[4])
local window, now, horizon, keep = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local stale_before = tonumber(ARGV[9])
local key = a.idempotency_key
if key ~= cjson.null then
  local id = latest(p, p .. 'key:' .. key, now - horizon)
  if id then return {'earlier', id} end
end
local still = unresolved(p, p .. 'fp:' .. a.fingerprint, stale_before)
if (not still) and key ~= cjson.null then still = unresolved(p, p .. 'key:' .. key, stale_before) end
if still then return {'unknown', still} end
if key == cjson.null and window > 0 then
  local id = latest(p, p .. 'fp:' .. a.fingerprint, now - window)
  if id then return {'earlier', id} end
end
local confirmation = a.confirmation_id
if confirmation ~= cjson.null and redis.call('EXISTS', p .. 'conf:' .. confirmation) == 1 then
  return {'confirmation_used'}
end
local recent = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. 'to:' .. a.recipient, '(' .. (now - 3600), '+inf')) do
  if live(p, id) then recent = recent + 1 end
end
if recent >= max_per_hour then return {'recipient_limit', tostring(recent)} end
local spent = tonumber(redis.call('GET', p .. 'spent:' .. a.day) or '0')
if spent + a.reserved_micro > budget then return {'budget', tostring(spent)} end
create(p, ARGV[2], keep, now)
return {'begun'}
"""
)

# Moves an open attempt to sent or released and corrects the day's spend by the difference; a pending attempt
# the API refused before processing it ('refused') is released and frees its confirmation. A message already
# claimed settles nothing more. Returns 1 when it moved the attempt.
FINISH = (
    _CREATE
    + """
local p, id, outcome = ARGV[1], ARGV[2], ARGV[3]
local hash = p .. 'a:' .. id
if outcome == 'sent' then recreate(p, id, ARGV[8], tonumber(ARGV[7])) end
local status = redis.call('HGET', hash, 'status')
if status ~= 'pending' and status ~= 'unknown' then return 0 end
if outcome == 'refused' and status ~= 'pending' then return 0 end
if outcome == 'sent' and redis.call('ZSCORE', p .. 'claimed', ARGV[5]) then return 0 end
local a = cjson.decode(redis.call('HGET', hash, 'attempt'))
local delta = -a.reserved_micro
if outcome == 'sent' then
  delta = delta + tonumber(ARGV[4])
  redis.call('HSET', hash, 'status', 'sent', 'charged_micro', ARGV[4], 'message_id', ARGV[5], 'message_json', ARGV[6])
  redis.call('ZADD', p .. 'claimed', a.created_at, ARGV[5])
  redis.call('ZREMRANGEBYSCORE', p .. 'claimed', '-inf', '(' .. (a.created_at - tonumber(ARGV[7])))
else
  redis.call('HSET', hash, 'status', 'released')
  local confirmation = a.confirmation_id
  if outcome == 'refused' and confirmation ~= cjson.null and redis.call('GET', p .. 'conf:' .. confirmation) == id then
    redis.call('DEL', p .. 'conf:' .. confirmation)
  end
end
redis.call('INCRBY', p .. 'spent:' .. a.day, delta)
redis.call('SREM', p .. 'open', id)
return 1
"""
)

MARK_UNKNOWN = (
    _CREATE
    + """
recreate(ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]))
local hash = ARGV[1] .. 'a:' .. ARGV[2]
if redis.call('HGET', hash, 'status') ~= 'pending' then return 0 end
redis.call('HSET', hash, 'status', 'unknown')
return 1
"""
)

FIND_EARLIER = (
    _LIVE
    + """
local p, zkey, since = ARGV[1], ARGV[2], tonumber(ARGV[3])
local id = latest(p, p .. zkey, since)
if id then return id end
return false
"""
)

FIND_UNRESOLVED = (
    _LIVE
    + """
local p, stale_before = ARGV[1], tonumber(ARGV[2])
for i = 3, #ARGV do
  local id = unresolved(p, p .. ARGV[i], stale_before)
  if id then return id end
end
return false
"""
)

RECENT_TO_RECIPIENT = (
    _LIVE
    + """
local p, recipient, since = ARGV[1], ARGV[2], tonumber(ARGV[3])
local count = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. 'to:' .. recipient, '(' .. since, '+inf')) do
  if live(p, id) then count = count + 1 end
end
return count
"""
)
