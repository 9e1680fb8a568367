-- One MCP tools/call per request in the 2026-07-28 era (no session, no initialize), for wrk.
--   MCP_TOOL=check_balance wrk -t2 -c10 -d5s -s bench/mcp_call.lua http://127.0.0.1:PORT/mcp
-- MCP_TOOL=send_sms sends a distinct body per request (thread id and counter), to MCP_TO.
local tool = os.getenv("MCP_TOOL") or "check_balance"
local to = os.getenv("MCP_TO") or "+12025551234"
local meta = '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
  .. '"io.modelcontextprotocol/clientInfo":{"name":"wrk","version":"1"},'
  .. '"io.modelcontextprotocol/clientCapabilities":{}}'
local threads = {}
local counter = 0
errors = 0
thread_id = 0  -- set per thread by setup()

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["Mcp-Protocol-Version"] = "2026-07-28"
  wrk.headers["Mcp-Method"] = "tools/call"
  wrk.headers["Mcp-Name"] = tool
end

local function arguments()
  if tool == "send_sms" then
    return string.format('{"to":"%s","body":"bench %d-%d"}', to, thread_id, counter)
  end
  return "{}"
end

function request()
  counter = counter + 1
  local body = string.format('{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"%s","arguments":%s,%s}}',
    counter, tool, arguments(), meta)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 200 or body:find('"isError":true', 1, true) then
    errors = errors + 1
    if errors == 1 then io.stderr:write(body:sub(1, 400) .. "\n") end
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do failed = failed + thread:get("errors") end
  io.write(string.format("MCP_ERRORS %d\n", failed))
  io.write(string.format("MCP_P50_MS %.2f\n", latency:percentile(50) / 1000))
end
