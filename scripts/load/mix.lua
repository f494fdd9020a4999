-- wrk script for scripts/load.sh: a stateful login / refresh / verify mix against the origin.
--
-- Run with one connection per thread (-t N -c N), so each thread has exactly one request
-- in flight and knows which session a response belongs to. Environment:
--   LOAD_MIX       e.g. "verify=70,refresh=25,login=5"
--   LOAD_SESSIONS  file of "sid:device_secret refresh_token access_token" lines (the
--                  clients' sessions; the device secret goes with every refresh)
--   LOAD_USERS     file of "email password" lines (for logins)
--   LOAD_OUT       prefix of the output files: <prefix>.json (figures), <prefix>.sessions
--                  (every session the clients hold at the end, same format as LOAD_SESSIONS)

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local function read_lines(path)
  local out = {}
  local f = io.open(path, "r")
  if not f then return out end
  for line in f:lines() do
    if #line > 0 then table.insert(out, line) end
  end
  f:close()
  return out
end

local function split(s)
  local t = {}
  for w in s:gmatch("%S+") do table.insert(t, w) end
  return t
end

function init(args)
  local nthreads = tonumber(os.getenv("LOAD_THREADS"))
  math.randomseed(os.time() + id * 7919)
  ops = {}
  local total = 0
  for name, weight in os.getenv("LOAD_MIX"):gmatch("(%a+)=(%d+)") do
    total = total + tonumber(weight)
    table.insert(ops, { name = name, upto = total })
  end
  op_total = total
  sessions = {} -- list of { sid, refresh, access }
  for i, line in ipairs(read_lines(os.getenv("LOAD_SESSIONS"))) do
    if (i - 1) % nthreads == id then
      local f = split(line)
      table.insert(sessions, { sid = f[1], refresh = f[2], access = f[3] })
    end
  end
  users = {}
  for _, line in ipairs(read_lines(os.getenv("LOAD_USERS"))) do
    local f = split(line)
    table.insert(users, { email = f[1], password = f[2] })
  end
  next_refresh = 1
  next_verify = 1
  pending = nil -- { op, session }
  -- Flat copies for done(): wrk's thread:get copies only flat tables safely.
  published = {} -- sid -> "refresh access[ inflight]"
  pending_sid = nil
  for _, s in ipairs(sessions) do published[s.sid] = s.refresh .. " " .. s.access end
  counts = {} -- "op status" -> n
  unanswered = 0
end

local function pick()
  local r = math.random(op_total)
  for _, o in ipairs(ops) do
    if r <= o.upto then return o.name end
  end
end

function request()
  if pending then
    -- The previous request got no response (socket error or timeout): its outcome is unknown.
    unanswered = unanswered + 1
    if pending.session then
      pending.session.uncertain = true
      published[pending.session.sid] = pending.session.refresh .. " " .. pending.session.access .. " inflight"
    end
  end
  local op = pick()
  if #sessions == 0 then op = "login" end
  if op == "refresh" then
    local s = sessions[next_refresh]
    next_refresh = next_refresh % #sessions + 1
    pending = { op = op, session = s }
    pending_sid = s.sid
    return wrk.format("POST", "/api/refresh",
      { ["Content-Type"] = "application/json", ["X-Device-Secret"] = s.sid:match(":(.*)$") or "" },
      '{"refresh_token":"' .. s.refresh .. '"}')
  elseif op == "verify" then
    local s = sessions[next_verify]
    next_verify = next_verify % #sessions + 1
    pending = { op = op, session = nil }
    pending_sid = nil
    return wrk.format("GET", "/api/sessions", { ["Authorization"] = "Bearer " .. s.access })
  else
    local u = users[math.random(#users)]
    pending = { op = "login", session = nil }
    pending_sid = nil
    return wrk.format("POST", "/api/login", { ["Content-Type"] = "application/json" },
      '{"email":"' .. u.email .. '","password":"' .. u.password .. '","mode":"token"}')
  end
end

function response(status, headers, body)
  local p = pending
  pending = nil
  pending_sid = nil
  if not p then return end
  local key = p.op .. " " .. status
  counts[key] = (counts[key] or 0) + 1
  if status ~= 200 then return end
  if p.op == "refresh" then
    local rt = body:match('"refresh_token":"([^"]+)"')
    local at = body:match('"access_token":"([^"]+)"')
    p.session.refresh = rt
    p.session.access = at
    p.session.uncertain = nil
    published[p.session.sid] = rt .. " " .. at
  elseif p.op == "login" then
    local s = {
      sid = body:match('"session_id":"([^"]+)"') .. ":" .. body:match('"device_secret":"([^"]+)"'),
      refresh = body:match('"refresh_token":"([^"]+)"'),
      access = body:match('"access_token":"([^"]+)"'),
    }
    table.insert(sessions, s)
    published[s.sid] = s.refresh .. " " .. s.access
  end
end

function done(summary, latency, requests)
  local out = os.getenv("LOAD_OUT")
  local sf = io.open(out .. ".sessions", "w")
  local totals = {}
  local unanswered_total = 0
  for _, t in ipairs(threads) do
    -- thread:get copies a global of the thread's Lua state (tables recursively).
    local inflight = t:get("pending_sid")
    for sid, v in pairs(t:get("published") or {}) do
      local flag = ""
      if sid == inflight and not v:find("inflight") then flag = " inflight" end
      sf:write(sid, " ", v, flag, "\n")
    end
    for k, v in pairs(t:get("counts") or {}) do
      totals[k] = (totals[k] or 0) + v
    end
    unanswered_total = unanswered_total + (t:get("unanswered") or 0)
  end
  sf:close()
  local parts = {}
  for k, v in pairs(totals) do table.insert(parts, string.format('"%s": %d', k, v)) end
  local secs = summary.duration / 1e6
  local e = summary.errors
  local f = io.open(out .. ".json", "w")
  f:write(string.format(
    '{"mix": "%s", "seconds": %.2f, "requests": %d, "rps": %.1f, ' ..
    '"latency_ms": {"p50": %.2f, "p90": %.2f, "p99": %.2f, "max": %.2f, "mean": %.2f}, ' ..
    '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, "non_2xx_3xx": %d, ' ..
    '"unanswered": %d, "by_op_status": {%s}}\n',
    os.getenv("LOAD_MIX"), secs, summary.requests, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000,
    e.connect, e.read, e.write, e.timeout, e.status, unanswered_total, table.concat(parts, ", ")))
  f:close()
end
