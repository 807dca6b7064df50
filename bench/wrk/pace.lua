-- Paces every connection: after each answer it waits a whole number of milliseconds drawn evenly
-- from 0 to twice BENCH_PACE_MS (mean BENCH_PACE_MS) before its next request, so the connections
-- drift apart instead of sending in step, and the server is offered a rate below what it can serve.
-- Seeded by BENCH_PACE_SEED (bench/wrk.ts draws one per run): wrk processes started in the same second would
-- otherwise draw the same waits, and two servers loaded at once would see their loads in step.
local pace = assert(tonumber(os.getenv("BENCH_PACE_MS")), "BENCH_PACE_MS must be a number of milliseconds")
math.randomseed(assert(tonumber(os.getenv("BENCH_PACE_SEED")), "BENCH_PACE_SEED must be a number"))

delay = function()
  return math.random(0, 2 * pace)
end
