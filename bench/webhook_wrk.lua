-- wrk script for bench/webhook_ingest.py: every request is a signed BigCommerce delivery
-- with an envelope hash of its own, except a share of re-deliveries that repeat a hash
-- this thread sent before. Each thread stops after its share of the deliveries, so a run
-- is bounded in count (this script) and in time (wrk -d).
--
-- With WEBHOOK_RATE (deliveries a second, per thread) above 0, requests are paced: each
-- takes the next free slot of a fixed schedule (an offered load, as far as the open
-- connections allow); 0 sends as fast as answers come back (saturation).
--
-- Environment: WEBHOOK_PATH, WEBHOOK_SECRET, WEBHOOK_DELIVERIES (per thread),
-- WEBHOOK_DUPLICATES (share, 0-1), WEBHOOK_SEED, WEBHOOK_RATE (per thread).

local ffi = require("ffi")
ffi.cdef [[
int getpid(void);
int kill(int pid, int sig);
typedef struct { long tv_sec; long tv_nsec; } timespec_t;
int clock_gettime(int clock, timespec_t *tp);
]]
local now_ts = ffi.new("timespec_t")

local function now_ms()
  ffi.C.clock_gettime(1, now_ts) -- CLOCK_MONOTONIC
  return tonumber(now_ts.tv_sec) * 1000 + tonumber(now_ts.tv_nsec) / 1e6
end

local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  path = os.getenv("WEBHOOK_PATH")
  secret = os.getenv("WEBHOOK_SECRET")
  limit = tonumber(os.getenv("WEBHOOK_DELIVERIES"))
  duplicates = tonumber(os.getenv("WEBHOOK_DUPLICATES"))
  math.randomseed(tonumber(os.getenv("WEBHOOK_SEED")) + id)
  headers = {["Content-Type"] = "application/json", ["X-Stockbridge-Secret"] = secret}
  rate = tonumber(os.getenv("WEBHOOK_RATE"))
  next_slot = nil  -- pacing: when the next request may go, in ms
  sent = 0       -- requests written
  fresh = 0      -- of which carried a hash not sent before
  answered = 0   -- responses read
  ok = 0         -- of which 200
end

-- Defined only when pacing: wrk then waits before every request, which costs a timer
-- event each even at a delay of 0.
if (tonumber(os.getenv("WEBHOOK_RATE") or "0") or 0) > 0 then
  function delay()
    local now = now_ms()
    if next_slot == nil or next_slot < now then
      next_slot = now
    end
    local wait = next_slot - now
    next_slot = next_slot + 1000 / rate
    return wait
  end
end

function request()
  local n
  if fresh > 0 and math.random() < duplicates then
    n = math.random(fresh)
  else
    fresh = fresh + 1
    n = fresh
  end
  sent = sent + 1
  local body = string.format(
    '{"scope":"store/order/updated","store_id":"1","data":{"type":"order","id":%d},'
      .. '"hash":"t%d-%d","created_at":%d,"producer":"stores/bench"}',
    1 + n % 500, id, n, os.time())
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  answered = answered + 1
  if status == 200 then
    ok = ok + 1
  end
  if answered == limit then
    wrk.thread:stop()
    ffi.C.kill(ffi.C.getpid(), 2)  -- SIGINT
  end
end

function done(summary, latency, requests)
  local sent_all, fresh_all, answered_all, ok_all = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    sent_all = sent_all + thread:get("sent")
    fresh_all = fresh_all + thread:get("fresh")
    answered_all = answered_all + thread:get("answered")
    ok_all = ok_all + thread:get("ok")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"duration_us":%d,"requests":%d,"sent":%d,"fresh":%d,"answered":%d,"ok":%d,'
      .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,'
      .. '"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d}\n',
    summary.duration, summary.requests, sent_all, fresh_all, answered_all, ok_all,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
