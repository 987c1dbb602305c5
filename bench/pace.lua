-- Pacing for the wrk scripts of bench/run, loaded with dofile() (wrk runs
-- from the top of the repository): BENCH_RATE=R and BENCH_CONNS=C (wrk's
-- -c, which a script cannot see) make each connection wait between its
-- requests so that all together send about R requests/s.  Returns wrk's
-- delay() function, or nil without BENCH_RATE: a delay() at all costs wrk
-- a timer per request.

local rate = tonumber(os.getenv("BENCH_RATE") or "")
if not rate then
   return nil
end
local interval = 1000 / (rate / tonumber(os.getenv("BENCH_CONNS") or "64"))

return function()
   -- wrk takes whole milliseconds: dither to keep the mean exact.
   local whole = math.floor(interval)
   if math.random() < interval - whole then
      return whole + 1
   end
   return whole
end
