-- A data migration: every account gets the domain of its email address, written through db:bulk()
-- in parallel batches. It runs outside a transaction (a transaction of millions of rows is more
-- than a server should hold), so it is written to be run again: it only touches accounts whose
-- domain is not set yet, and reports progress, which the runner records.
local surrealdb = require("surrealdb")
local Range = surrealdb.Range

-- The accounts without a domain, read 2,000 at a time in record id order (a range scan from the last
-- id seen, not START/OFFSET, so each page costs the same), as bulk update items.
local function accounts_to_fill(db)
  local after, page, i = nil, {}, 0
  return function()
    i = i + 1
    if i > #page then
      local range = surrealdb.RecordID("account", Range(after and Range.excluded(after) or nil, nil))
      page = db:query("SELECT id, email FROM $range WHERE email_domain IS NONE LIMIT 2000", { range = range })
      i = 1
      if #page == 0 then return nil end
      after = page[#page].id.id
    end
    local account = page[i]
    return { id = account.id, data = { email_domain = account.email:match("@(.+)$"):lower() }, merge = true }
  end
end

return {
  description = "add account.email_domain and fill it from each email",
  transaction = false,
  up = function(db, ctx)
    db:query("DEFINE FIELD IF NOT EXISTS email_domain ON account TYPE option<string>")
    local total = db:query("SELECT count() FROM account GROUP ALL")[1]
    total = total and total.count or 0
    ctx.log("filling email_domain of %d accounts", total)
    local bulk = ctx.bulk{ parallel = 2, batch_size = 1000, progress = function(done) ctx.progress(done, total) end }
    local result = bulk:update("account", accounts_to_fill(db))
    ctx.log("%d accounts updated in %.1f s", result.success_count, result.elapsed)
  end,
  down = function(db)
    -- Removing a field's definition keeps its values in the records: unset them too.
    db:query("REMOVE FIELD IF EXISTS email_domain ON account; UPDATE account UNSET email_domain RETURN NONE")
  end,
}
