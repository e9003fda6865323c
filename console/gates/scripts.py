"""Lua scripts: each gate decision is one atomic step in Redis, shared by all web processes.

Times come from Redis (``TIME``), so web processes, workers and beat on several hosts
compare one clock.
"""

from __future__ import annotations

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# KEYS: gate, inflight, last request. ARGV: request id, lease seconds.
# 1 = admitted (marked in flight); 0 = a sleep is in flight, hold the request.
ADMIT = (
    _NOW
    + """
redis.call('SET', KEYS[3], string.format('%.3f', now))
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
return 1
"""
)

# KEYS: gate, inflight. ARGV: request id, lease seconds, the episode (microseconds) the
# instance is awake since. The console's own probe of an engine: admitted only while no
# sleep is in flight and no other request is, marked in flight like a gateway request (a
# sleep's drain waits for it), and not counted as activity by the idle policy. A gate
# closed in an earlier awake stretch is stale and opened, as the gateway would (REOPEN_STALE).
# 1 = admitted; 0 = not now.
ADMIT_PROBE = (
    _NOW
    + """
local closed = redis.call('GET', KEYS[1])
if closed then
  local episode = tonumber(string.match(closed, '^(%d+):'))
  if episode ~= nil and episode >= tonumber(ARGV[3]) then return 0 end
  redis.call('DEL', KEYS[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
return 1
"""
)

# KEYS: gate keys; ARGV: the episode (microseconds) each instance is awake since.
# A gate closed during an earlier awake stretch is stale: the sleep that closed it is over.
# Episodes are the row's state_changed_at, written by the workers and agents: a later
# stretch reads as later as long as their clocks agree within the seconds a sleep takes.
REOPEN_STALE = """
local opened = 0
for i, key in ipairs(KEYS) do
  local closed = redis.call('GET', key)
  if closed then
    local episode = tonumber(string.match(closed, '^(%d+):'))
    if episode == nil or episode < tonumber(ARGV[i]) then
      redis.call('DEL', key)
      opened = opened + 1
    end
  end
end
return opened
"""

# KEYS: inflight. Drops marks whose lease ran out (a web process died), counts the rest.
COUNT_INFLIGHT = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""
)

# KEYS: gate; ARGV: the token this caller closed it with. Deletes only its own closing.
OPEN_IF_MINE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: held; ARGV: request id, lease seconds, cap. 1 = held; 0 = the cap is reached.
HOLD = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1
"""
)

# No KEYS. Redis's clock, in seconds.
NOW = _NOW + "return tostring(now)"
