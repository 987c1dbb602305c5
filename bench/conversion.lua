-- wrk script of bench/run for conversions: each request is a postback
-- for the next transaction_id of a file of clicks made beforehand.
--
-- BENCH_IDS_IN=FILE   transaction ids, one a line (required)
-- BENCH_TOKEN=TOKEN   the secure token (required)
-- BENCH_ONCE=1        use each id once, then stop sending (wrk still
--                     waits out its -d; bench/run sizes -d to fit)
--                     otherwise wrap around: repeated ids are answered
--                     "rejected reason=duplicate", which is a verdict too
--
-- BENCH_RATE=R, BENCH_CONNS=C   paced (bench/pace.lua)
--
-- done() prints "BENCH {json}" with the request count, latency and the
-- answers counted by status and by verdict (result=... of the body).

local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   ids = {}
   for line in io.lines(os.getenv("BENCH_IDS_IN")) do
      ids[#ids + 1] = line
   end
   token = os.getenv("BENCH_TOKEN")
   once = os.getenv("BENCH_ONCE") ~= nil
   -- Each thread takes every n-th id, so that threads never share one.
   nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
   next_id = tid + 1
   statuses = {}
   verdicts = {}
   sent = 0
end

delay = dofile("bench/pace.lua")

function request()
   if next_id > #ids then
      if once then
         wrk.thread:stop()
         return wrk.format(nil, "/healthz")
      end
      next_id = (next_id - 1) % #ids + 1
   end
   local id = ids[next_id]
   next_id = next_id + nthreads
   sent = sent + 1
   return wrk.format(nil, "/postback?secure=" .. token ..
                     "&transaction_id=" .. id)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   local r = body and body:match("result=(%a+)")
   if r then
      if r == "rejected" then
         r = r .. ":" .. (body:match("reason=([%w_]+)") or "?")
      end
      verdicts[r] = (verdicts[r] or 0) + 1
   end
end

local function merge(into, name)
   for _, t in ipairs(threads) do
      local s = t:get(name)
      if s then
         for k, n in pairs(s) do
            into[k] = (into[k] or 0) + n
         end
      end
   end
end

local function json_counts(t)
   local parts = {}
   for k, n in pairs(t) do
      table.insert(parts, string.format('"%s":%d', tostring(k), n))
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
   local st, vd = {}, {}
   merge(st, "statuses")
   merge(vd, "verdicts")
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests":%d,"duration_us":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},' ..
      '"statuses":%s,"verdicts":%s}\n',
      summary.requests, summary.duration,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean,
      json_counts(st), json_counts(vd)))
end
