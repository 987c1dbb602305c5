-- wrk script of bench/run for the click path (postline and nginx alike).
--
-- Always: done() prints one line "BENCH {json}" with the request count,
-- duration, socket and status errors and latency percentiles (µs), so
-- that bench/run need not parse wrk's human output.
--
-- BENCH_COUNT=1: also count every answer by HTTP status (this adds a Lua
-- call per response, so the timed comparison with nginx runs without it).
-- BENCH_IDS=FILE: as BENCH_COUNT, and write the transaction_id of every
-- 302 answered by postline ("transaction_id=..." body) to FILE, one a line.
-- BENCH_RATE=R and BENCH_CONNS=C (wrk's -c): pace each connection so that
-- all together send about R requests/s (bench/pace.lua; latency at a fixed
-- rate: wrk measures from each send, so a stall shows only in its own
-- request).
-- BENCH_SPREAD=N (default 4096, 0: off): cycle through N requests that
-- differ in X-Forwarded-For (10.x.y.z), as visitors from many addresses:
-- ingest routes each offer, IP and User-Agent to one matcher shard.

local ids_file = os.getenv("BENCH_IDS")
local counting = ids_file ~= nil or os.getenv("BENCH_COUNT") ~= nil
local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

local spread = tonumber(os.getenv("BENCH_SPREAD") or "4096")
local requests = {}

function init(args)
   statuses = {}
   for i = 1, spread do
      local h = {}
      for k, v in pairs(wrk.headers) do
         h[k] = v
      end
      h["X-Forwarded-For"] = string.format("10.%d.%d.%d", tid % 256,
                                           math.floor(i / 256) % 256, i % 256)
      requests[i] = wrk.format(nil, nil, h)
   end
   if ids_file then
      out = assert(io.open(ids_file .. "." .. tid, "w"))
      out:setvbuf("line")
   end
end

delay = dofile("bench/pace.lua")

if spread > 0 then
   local n = 0
   function request()
      n = n % spread + 1
      return requests[n]
   end
end

if counting then
   function response(status, headers, body)
      statuses[status] = (statuses[status] or 0) + 1
      if out and status == 302 and body then
         local id = body:match("transaction_id=([0-9a-z]+)")
         if id then
            out:write(id, "\n")
         end
      end
   end
end

function done(summary, latency, requests)
   local counts = {}
   for _, t in ipairs(threads) do
      local s = t:get("statuses")
      if s then
         for code, n in pairs(s) do
            counts[code] = (counts[code] or 0) + n
         end
      end
   end
   local parts = {}
   for code, n in pairs(counts) do
      table.insert(parts, string.format('"%d":%d', code, n))
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},' ..
      '"statuses":{%s}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean,
      table.concat(parts, ",")))
end
