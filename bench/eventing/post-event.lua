-- wrk script of bench/eventing/run-eventing.sh: POSTs the benchmark's binary-mode CloudEvent (the same
-- headers and body hey sent before) and counts the answers by status, so that only 202s (durable) count
-- as ingested. wrk instead of hey: on 2 cores hey (Go, a goroutine and its allocations per request)
-- took a large share of the CPU the broker under test needed; wrk's C event loop takes a fraction.
-- The body comes from the environment: EVENT_BODY. With EVENT_BATCH set, the body is a batch-mode request
-- (application/cloudevents-batch+json, a JSON array of structured events) and no ce- headers are sent; the
-- counts below are requests, the caller multiplies by the events per request.
wrk.method = "POST"
wrk.body = os.getenv("EVENT_BODY")
local batch = os.getenv("EVENT_BATCH")
if batch ~= nil and batch ~= "" then
  wrk.headers["Content-Type"] = "application/cloudevents-batch+json"
else
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["ce-specversion"] = "1.0"
  wrk.headers["ce-id"] = "bench"
  wrk.headers["ce-source"] = "/bench"
  wrk.headers["ce-type"] = "bench.event"
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  accepted = 0
  refused = 0
end

function response(status, headers, body)
  if status == 202 then
    accepted = accepted + 1
  else
    refused = refused + 1
  end
end

-- Printed after wrk's own summary: "accepted N" (202 answers) and "refused N" (any other status).
function done(summary, latency, requests)
  local a, r = 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("accepted")
    r = r + thread:get("refused")
  end
  io.write(string.format("accepted %d\nrefused %d\n", a, r))
end
