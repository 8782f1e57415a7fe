-- Loaded by busted before the specs (see .busted): shared fixtures for all specs.
-- Integration specs reach the server named by SURREAL_URL (make test starts the dev server and sets it).
local helper = {}

--- The URL of the SurrealDB server the integration specs use (make test sets SURREAL_URL).
function helper.server_url()
  local url = os.getenv("SURREAL_URL")
  if url == nil or url == "" then
    error("SURREAL_URL is not set: run the specs with `make test`, which starts the dev server", 2)
  end
  return url
end

package.loaded["spec.helper"] = helper
return helper
