-- Sends every request with the next token of BENCH_TOKENS (one JWT per line), starting at byte
-- BENCH_TOKEN_BYTE_OFFSET (the start of a line), so that no token is seen twice by the server (no
-- verified-token cache hit). Lines are read as they are sent: loading the whole list (80 MB at
-- 185,000 tokens) into each of wrk's Lua states took seconds per run.
local file = assert(io.open(os.getenv("BENCH_TOKENS"), "r"))
file:seek("set", tonumber(os.getenv("BENCH_TOKEN_BYTE_OFFSET") or "0"))
wraps = 0
local headers = nil

local function next_token()
  local line = file:read("*l")
  while line == nil or line == "" do
    if line == nil then
      file:seek("set", 0)
      wraps = wraps + 1
    end
    line = file:read("*l")
  end
  return line
end

request = function()
  if headers == nil then
    headers = {}
    for k, v in pairs(wrk.headers) do headers[k] = v end
  end
  headers["Authorization"] = "Bearer " .. next_token()
  return wrk.format(nil, nil, headers)
end
