-- Sends every request with the next token of BENCH_TOKENS (one JWT per line), starting at line
-- BENCH_TOKEN_OFFSET + 1, so that no token is seen twice by the server (no verified-token cache hit).
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do
  if line ~= "" then tokens[#tokens + 1] = line end
end
local i = tonumber(os.getenv("BENCH_TOKEN_OFFSET") or "0") % #tokens
wraps = 0
local headers = nil

request = function()
  if headers == nil then
    headers = {}
    for k, v in pairs(wrk.headers) do headers[k] = v end
  end
  i = i + 1
  if i > #tokens then
    i = 1
    wraps = wraps + 1
  end
  headers["Authorization"] = "Bearer " .. tokens[i]
  return wrk.format(nil, nil, headers)
end
