-- wrk script of bench/eventing/run-eventing.sh: POSTs the benchmark's binary-mode CloudEvent (the same
-- headers and body hey sent before) and counts the answers by status, so that only 202s (durable) count
-- as ingested. wrk instead of hey: on 2 cores hey (Go, a goroutine and its allocations per request)
-- took a large share of the CPU the broker under test needed; wrk's C event loop takes a fraction.
-- The body comes from the environment: EVENT_BODY.
wrk.method = "POST"
wrk.body = os.getenv("EVENT_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["ce-specversion"] = "1.0"
wrk.headers["ce-id"] = "bench"
wrk.headers["ce-source"] = "/bench"
wrk.headers["ce-type"] = "bench.event"

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
