-- A rename: account.full_name becomes account.name. In one transaction (the runner's): the new
-- field, the copy of every value and the removal of the old field land together or not at all.
return {
  description = "rename account.full_name to account.name",
  up = function(db)
    db:query([[
      DEFINE FIELD name ON account TYPE string;
      UPDATE account SET name = full_name RETURN NONE;
      REMOVE FIELD full_name ON account;
      UPDATE account UNSET full_name RETURN NONE;
    ]])
  end,
  down = function(db)
    db:query([[
      DEFINE FIELD full_name ON account TYPE string;
      UPDATE account SET full_name = name RETURN NONE;
      REMOVE FIELD name ON account;
      UPDATE account UNSET name RETURN NONE;
    ]])
  end,
}
