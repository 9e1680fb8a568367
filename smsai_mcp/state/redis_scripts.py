"""The Lua scripts behind the Redis store: each check-and-change runs as one script, so it is atomic.

Every script takes the tenant's key prefix as ARGV[1]; the key layout is described in state/redis.py.
"""

from __future__ import annotations

__all__ = [
    "BEGIN",
    "FIND_EARLIER",
    "FIND_UNRESOLVED",
    "FINISH",
    "MARK_UNKNOWN",
    "RECENT_TO_RECIPIENT",
    "SPENT_MONTH",
]

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

# Shared: the running totals (spent per day and per month) and the numbers texted in the last hour, in all and
# per block of 100, each a sorted set of numbers by the latest time they were texted.
_TOTALS = """
local MONTH_KEEP = 62 * 86400
-- The month's running total; a store kept before there was one starts from the days of the month it still has.
local function month_total(p, day)
  local month = string.sub(day, 1, 7)
  local key = p .. 'spentm:' .. month
  local total = redis.call('GET', key)
  if total then return tonumber(total) end
  local sum = 0
  for d = 1, tonumber(string.sub(day, 9, 10)) do
    sum = sum + tonumber(redis.call('GET', p .. 'spent:' .. month .. string.format('-%02d', d)) or '0')
  end
  redis.call('SET', key, sum, 'EX', MONTH_KEEP)
  return sum
end
local function book(p, a, delta, keep)
  month_total(p, a.day)  -- before the day's total moves, so the move is counted once
  redis.call('INCRBY', p .. 'spent:' .. a.day, delta)
  if keep then redis.call('EXPIRE', p .. 'spent:' .. a.day, keep) end
  local month = p .. 'spentm:' .. string.sub(a.day, 1, 7)
  redis.call('INCRBY', month, delta)
  redis.call('EXPIRE', month, MONTH_KEEP)
end
local function velocity_keys(p, recipient)
  return {p .. 'texted', p .. 'blk:' .. string.sub(recipient, 1, -3)}
end
local function texted(p, recipient, at, now)
  for _, zkey in ipairs(velocity_keys(p, recipient)) do
    redis.call('ZADD', zkey, 'GT', at, recipient)
    redis.call('ZREMRANGEBYSCORE', zkey, '-inf', now - 3600)
    redis.call('EXPIRE', zkey, 7200)
  end
end
-- A released attempt sent nothing: its number counts from its latest other live attempt, if any.
local function withdrawn(p, recipient)
  local latest = nil
  local found = redis.call('ZREVRANGE', p .. 'to:' .. recipient, 0, -1, 'WITHSCORES')
  for i = 1, #found, 2 do
    local status = redis.call('HGET', p .. 'a:' .. found[i], 'status')
    if status and status ~= 'released' then latest = found[i + 1]; break end
  end
  for _, zkey in ipairs(velocity_keys(p, recipient)) do
    if latest then redis.call('ZADD', zkey, latest, recipient) else redis.call('ZREM', zkey, recipient) end
  end
end
"""

# Shared: puts a pending attempt on the books (its hash, indexes, used confirmation, reservation and open entry).
_CREATE = (
    _TOTALS
    + """
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
  book(p, a, a.reserved_micro, keep)
  texted(p, a.recipient, a.created_at, now)
  redis.call('SADD', p .. 'open', a.id)
end
-- Redis lost an attempt while its POST was in flight (restarted without persistence, flushed): book it again.
local function recreate(p, id, raw, keep)
  if redis.call('EXISTS', p .. 'a:' .. id) == 0 and raw and raw ~= '' then
    create(p, raw, keep, cjson.decode(raw).created_at)
  end
end
"""
)

# Every check of one attempt against what is on the books; nil when it may be begun.
_CHECK = """
local function check(p, a, q, now, horizon)
  local key = a.idempotency_key
  if key ~= cjson.null then
    local id = latest(p, p .. 'key:' .. key, now - horizon)
    if id then return {'earlier', id} end
  end
  local still = unresolved(p, p .. 'fp:' .. a.fingerprint, q.stale_before)
  if (not still) and key ~= cjson.null then still = unresolved(p, p .. 'key:' .. key, q.stale_before) end
  if still then return {'unknown', still} end
  if key == cjson.null and q.window > 0 then
    local id = latest(p, p .. 'fp:' .. a.fingerprint, now - q.window)
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
  if recent >= q.per_recipient then return {'recipient_limit', tostring(recent)} end
  local since = '(' .. (now - 3600)
  local keys = velocity_keys(p, a.recipient)
  local mine = redis.call('ZSCORE', keys[1], a.recipient)
  if not (mine and tonumber(mine) > now - 3600) then
    local everyone = redis.call('ZCOUNT', keys[1], since, '+inf')
    if everyone >= q.recipients then return {'recipients_per_hour', tostring(everyone)} end
    local block = redis.call('ZCOUNT', keys[2], since, '+inf')
    if block >= q.block then return {'number_block', tostring(block)} end
  end
  local spent = tonumber(redis.call('GET', p .. 'spent:' .. a.day) or '0')
  if spent + a.reserved_micro > q.budget then return {'budget', tostring(spent)} end
  if q.monthly ~= cjson.null then
    local month = month_total(p, a.day)
    if month + a.reserved_micro > q.monthly then return {'monthly_budget', tostring(month)} end
  end
  return nil
end
-- Takes back an attempt this script created: as if it had never been begun.
local function undo(p, a, before)
  redis.call('DEL', p .. 'a:' .. a.id)
  redis.call('ZREM', p .. 'fp:' .. a.fingerprint, a.id)
  redis.call('ZREM', p .. 'to:' .. a.recipient, a.id)
  if a.idempotency_key ~= cjson.null then redis.call('ZREM', p .. 'key:' .. a.idempotency_key, a.id) end
  if a.confirmation_id ~= cjson.null then redis.call('DEL', p .. 'conf:' .. a.confirmation_id) end
  book(p, a, -a.reserved_micro, tonumber(ARGV[4]))
  redis.call('SREM', p .. 'open', a.id)
  for i, zkey in ipairs(velocity_keys(p, a.recipient)) do
    if before[i] then redis.call('ZADD', zkey, before[i], a.recipient) else redis.call('ZREM', zkey, a.recipient) end
  end
end
"""

# Begins one attempt or several, all or nothing: each is checked (seeing those before it) and created; when any
# fails, every one created is taken back, and those that passed answer 'held_back'. ARGV: prefix, now, the
# idempotency horizon, keep, then per attempt its JSON and its limits' JSON.
BEGIN = (
    _LIVE
    + _CREATE
    + _CHECK
    + """
local p, now, horizon, keep = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local replies, created, failed = {}, {}, false
for i = 5, #ARGV, 2 do
  local a = cjson.decode(ARGV[i])
  local reply = check(p, a, cjson.decode(ARGV[i + 1]), now, horizon)
  if reply then
    failed = true
    table.insert(replies, reply)
  else
    local keys = velocity_keys(p, a.recipient)
    local before = {redis.call('ZSCORE', keys[1], a.recipient), redis.call('ZSCORE', keys[2], a.recipient)}
    create(p, ARGV[i], keep, now)
    table.insert(created, {a, before})
    table.insert(replies, {'begun'})
  end
end
if failed then
  for i = #created, 1, -1 do undo(p, created[i][1], created[i][2]) end
  for i, reply in ipairs(replies) do
    if reply[1] == 'begun' then replies[i] = {'held_back'} end
  end
end
return replies
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
  withdrawn(p, a.recipient)
end
book(p, a, delta, nil)
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

# The running total of a UTC month, ARGV[2] the last day to count ("2026-11-29").
SPENT_MONTH = (
    _TOTALS
    + """
return month_total(ARGV[1], ARGV[2])
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
