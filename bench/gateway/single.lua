-- wrk script: one event per POST (application/json), keep-alive.
-- BODY_FILE: the event; TOKEN: bearer token; RATE_PER_CONN (optional):
-- requests/s each connection aims at (wrk's delay() paces them), for the
-- latency run at a fixed load.
local f = assert(io.open(os.getenv("BODY_FILE"), "r"))
local body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = os.getenv("CTYPE") or "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local rate = tonumber(os.getenv("RATE_PER_CONN") or "0")
if rate > 0 then
        function delay()
                return 1000 / rate
        end
end
local non2xx = 0
function response(status, headers, body)
        if status < 200 or status > 299 then
                non2xx = non2xx + 1
                if non2xx <= 3 then
                        io.stderr:write("status " .. status .. ": " .. body .. "\n")
                end
        end
end
