-- Unit: the SurrealQL and bound variables of every filter operator, of Q combinations, and the
-- errors of bad field names, keys and values. Nothing here talks to a server.
local helper = require("spec.helper")
local filter = require("surrealdb.orm.filter")
local types = require("surrealdb.types")
local Q = filter.Q

-- Compile a filter; return its SurrealQL and variables.
local function compile(where)
  local params = filter.params()
  return filter.compile(where, params), params.vars
end

local function expect(where, sql, vars)
  local got_sql, got_vars = compile(where)
  assert.are.equal(sql, got_sql)
  assert.are.same(vars, got_vars)
end

describe("orm.filter", function()
  describe("operators", function()
    it("compares with = by default and with __eq", function()
      expect({ name = "Ann" }, "name = $p1", { p1 = "Ann" })
      expect({ name__eq = "Ann" }, "name = $p1", { p1 = "Ann" })
    end)

    it("compiles __ne, __gt, __gte, __lt and __lte", function()
      expect({ age__ne = 1 }, "age != $p1", { p1 = 1 })
      expect({ age__gt = 1 }, "age > $p1", { p1 = 1 })
      expect({ age__gte = 1.5 }, "age >= $p1", { p1 = 1.5 })
      expect({ age__lt = 1 }, "age < $p1", { p1 = 1 })
      expect({ age__lte = 1 }, "age <= $p1", { p1 = 1 })
    end)

    it("compiles __in and __not_in to INSIDE and NOTINSIDE with an array", function()
      local sql, vars = compile({ age__in = { 1, 2 } })
      assert.are.equal("age INSIDE $p1", sql)
      assert.are.same({ 1, 2 }, vars.p1)
      assert.is_true(types.is_array(vars.p1))
      expect({ age__not_in = { "a" } }, "age NOTINSIDE $p1", { p1 = { "a" } })
    end)

    it("sends an empty list given as {} as an empty array", function()
      local _, vars = compile({ age__in = {} })
      assert.are.equal(types.array_mt, getmetatable(vars.p1))
      assert.are.equal(0, #vars.p1)
      _, vars = compile({ age__not_in = types.array() })
      assert.are.equal(types.array_mt, getmetatable(vars.p1))
    end)

    it("copies the list it binds, leaving the caller's table untouched", function()
      local list = { 1, 2 }
      local _, vars = compile({ age__in = list })
      assert.are_not.equal(list, vars.p1)
      assert.is_nil(getmetatable(list))
    end)

    it("compiles __contains and __contains_any", function()
      expect({ tags__contains = "lua" }, "tags CONTAINS $p1", { p1 = "lua" })
      expect({ tags__contains_any = { "lua", "c" } }, "tags CONTAINSANY $p1", { p1 = { "lua", "c" } })
    end)

    it("guards the string operators with type::is_string", function()
      expect({ name__startswith = "A" }, "(type::is_string(name) AND string::starts_with(name, $p1))", { p1 = "A" })
      expect({ name__endswith = "n" }, "(type::is_string(name) AND string::ends_with(name, $p1))", { p1 = "n" })
      expect({ name__icontains = "AN" },
        "(type::is_string(name) AND string::contains(string::lowercase(name), string::lowercase($p1)))",
        { p1 = "AN" })
    end)

    it("matches missing and NULL fields with __is_null = true, and neither with false", function()
      expect({ email__is_null = true }, "(email IS NONE OR email IS NULL)", {})
      expect({ email__is_null = false }, "(email IS NOT NONE AND email IS NOT NULL)", {})
    end)

    it("compiles __between to both ends included", function()
      expect({ age__between = { 18, 65 } }, "(age >= $p1 AND age <= $p2)", { p1 = 18, p2 = 65 })
    end)

    it("binds NULL and NONE sentinels as values", function()
      expect({ email = types.null }, "email = $p1", { p1 = types.null })
      expect({ email = types.NONE }, "email = $p1", { p1 = types.NONE })
    end)

    it("binds values of the SurrealDB types", function()
      local id = types.RecordID("person", "ann")
      expect({ friend = id }, "friend = $p1", { p1 = id })
    end)

    it("lists its operator names", function()
      assert.are.same({ "between", "contains", "contains_any", "endswith", "eq", "gt", "gte", "icontains", "in",
        "is_null", "lt", "lte", "ne", "not_in", "startswith" }, filter.operator_names)
    end)
  end)

  describe("field paths", function()
    it("writes nested fields with dots", function()
      expect({ address__city = "Paris" }, "address.city = $p1", { p1 = "Paris" })
      expect({ a__b__c__gte = 1 }, "a.b.c >= $p1", { p1 = 1 })
    end)

    it("reads the last part as an operator only when it names one", function()
      expect({ address__country = "FR" }, "address.country = $p1", { p1 = "FR" })
      expect({ edge__in__eq = 1 }, "edge.in = $p1", { p1 = 1 })
      expect({ ["in"] = 1 }, "in = $p1", { p1 = 1 })
    end)

    it("brackets reserved words of SurrealQL, in any case", function()
      expect({ value = 1 }, "⟨value⟩ = $p1", { p1 = 1 })
      expect({ SELECT__gte = 1 }, "⟨SELECT⟩ >= $p1", { p1 = 1 })
      expect({ meta__true = 1 }, "meta.⟨true⟩ = $p1", { p1 = 1 })
      expect({ delete = 1 }, "⟨delete⟩ = $p1", { p1 = 1 })
      assert.are.equal("⟨null⟩", filter.field_path("null"))
    end)

    it("accepts identifiers with underscores and digits", function()
      expect({ _private1 = 1 }, "_private1 = $p1", { p1 = 1 })
      expect({ first_name = "A" }, "first_name = $p1", { p1 = "A" })
    end)

    local bad_fields = {
      "", "a.b", "1abc", "a b", "a-b", "a__", "__a", "a____b", "prénom", "a;b", "a'b", "a)", "a`b", "a⟩b",
      "name = 'x' OR true", "name; DELETE person; --", "name) OR (1=1", "⟨name⟩", "$p1", "a\0b", "a\nb",
    }
    for _, name in ipairs(bad_fields) do
      it(("rejects the field %q with a ValidationError naming it"):format(name), function()
        local err = helper.raises(function() compile({ [name] = 1 }) end, "is not a valid field path")
        assert.are.equal(name, err.details.field)
        assert.truthy(err.message:find(("%q"):format(name), 1, true))
      end)
    end

    it("hints at __ when a path is written with dots", function()
      helper.raises(function() compile({ ["address.city"] = 1 }) end, "nested fields are written with __")
    end)

    it("checks the path before an operator", function()
      helper.raises(function() compile({ ["a b__gte"] = 1 }) end, 'filter field "a b__gte"')
    end)

    it("field_path rejects what is not a string", function()
      helper.raises(function() filter.field_path(5, "order_by field") end, "order_by field must be a string")
    end)
  end)

  describe("values", function()
    it("requires an array for __in, __not_in, __contains_any and __between", function()
      for _, op in ipairs({ "in", "not_in", "contains_any", "between" }) do
        helper.raises(function() compile({ ["age__" .. op] = 5 }) end, "__" .. op .. " expects an array")
        helper.raises(function() compile({ ["age__" .. op] = { a = 1 } }) end, "a table that is not an array")
      end
    end)

    it("requires exactly two values for __between", function()
      helper.raises(function() compile({ age__between = { 1, 2, 3 } }) end, "expects two values { low, high }, got 3")
      helper.raises(function() compile({ age__between = {} }) end, "got 0")
    end)

    it("requires a string for the string operators", function()
      for _, op in ipairs({ "startswith", "endswith", "icontains" }) do
        local err = helper.raises(function() compile({ ["name__" .. op] = 5 }) end,
          "__" .. op .. " expects a string")
        assert.are.equal(op, err.details.operator)
        assert.are.equal("name__" .. op, err.details.field)
      end
    end)

    it("requires a boolean for __is_null", function()
      helper.raises(function() compile({ email__is_null = "yes" }) end, "__is_null expects true or false, got string")
    end)

    it("rejects functions, coroutines and userdata as values", function()
      helper.raises(function() compile({ a = print }) end, "filter a: a function cannot be sent")
      helper.raises(function() compile({ a__in = { coroutine.create(print) } }) end, "a thread cannot be sent")
      helper.raises(function() compile({ a = io.stdout }) end, "a userdata cannot be sent")
    end)

    it("never writes a value into the text", function()
      local nasty = "x' OR true; DELETE person; --"
      local scalar_ops = { "eq", "ne", "gt", "gte", "lt", "lte", "contains", "startswith", "endswith", "icontains" }
      for _, op in ipairs(scalar_ops) do
        local sql, vars = compile({ ["name__" .. op] = nasty })
        assert.is_nil(sql:find("DELETE", 1, true))
        assert.are.equal(nasty, vars.p1)
      end
      for _, op in ipairs({ "in", "not_in", "contains_any" }) do
        local sql, vars = compile({ ["name__" .. op] = { nasty } })
        assert.is_nil(sql:find("DELETE", 1, true))
        assert.are.equal(nasty, vars.p1[1])
      end
      local sql = compile({ name__between = { nasty, nasty } })
      assert.is_nil(sql:find("DELETE", 1, true))
    end)
  end)

  describe("tables of lookups", function()
    it("joins lookups with AND in byte order of their keys", function()
      expect({ b = 2, a = 1, B = 3, a__gt = 0 }, "B = $p1 AND a = $p2 AND a > $p3 AND b = $p4",
        { p1 = 3, p2 = 1, p3 = 0, p4 = 2 })
    end)

    it("gives the same SurrealQL whatever the order keys were inserted in", function()
      local keys = {}
      for i = 1, 40 do keys[i] = ("f%02d__gte"):format(i) end
      local forward, backward = {}, {}
      for i = 1, #keys do forward[keys[i]] = i end
      for i = #keys, 1, -1 do backward[keys[i]] = i end
      local rehashed = {}
      for i = 1, 1000 do rehashed["tmp" .. i] = true end
      for i = 1, 1000 do rehashed["tmp" .. i] = nil end
      for i = 1, #keys, 2 do rehashed[keys[i]] = i end
      for i = 2, #keys, 2 do rehashed[keys[i]] = i end
      local sql1, vars1 = compile(forward)
      local sql2, vars2 = compile(backward)
      local sql3, vars3 = compile(rehashed)
      assert.are.equal(sql1, sql2)
      assert.are.equal(sql1, sql3)
      assert.are.same(vars1, vars2)
      assert.are.same(vars1, vars3)
      assert.truthy(sql1:find("^f01 >= %$p1 AND f02 >= %$p2 AND"))
    end)

    it("puts Qs and filter tables of the array part first, in their order", function()
      expect({ z = 1, Q{ b = 2 } | Q{ c = 3 }, { a = 4 } }, "(b = $p1 OR c = $p2) AND a = $p3 AND z = $p4",
        { p1 = 2, p2 = 3, p3 = 4, p4 = 1 })
    end)

    it("matches everything when empty", function()
      assert.is_nil((compile({})))
      assert.is_nil((compile(nil)))
    end)

    it("rejects keys that are neither strings nor array indexes", function()
      helper.raises(function() compile({ [true] = 1 }) end, "a filter key must be a string")
      helper.raises(function() compile({ [1.5] = 1 }) end, "got 1.5")
      helper.raises(function() compile({ [0] = Q{ a = 1 } }) end, "got 0")
    end)

    it("rejects array items that are not filters", function()
      helper.raises(function() compile({ "age" }) end, "expects a filter table or a Q, got string")
    end)

    it("rejects a filter that is not a table", function()
      helper.raises(function() compile("age > 1") end, "filter expects a filter table or a Q, got string")
      helper.raises(function() compile(types.RecordID("a", 1)) end, "a table with a metatable")
    end)
  end)

  describe("Q", function()
    it("ORs with |", function()
      expect(Q{ a = 1 } | Q{ b = 2 }, "a = $p1 OR b = $p2", { p1 = 1, p2 = 2 })
    end)

    it("ANDs with &", function()
      expect(Q{ a = 1 } & Q{ b = 2 }, "a = $p1 AND b = $p2", { p1 = 1, p2 = 2 })
    end)

    it("negates with ~", function()
      expect(~Q{ a = 1 }, "!(a = $p1)", { p1 = 1 })
      expect(~Q{ a = 1, b = 2 }, "!(a = $p1 AND b = $p2)", { p1 = 1, p2 = 2 })
      expect(~~Q{ a = 1 }, "!(!(a = $p1))", { p1 = 1 })
    end)

    it("brackets an OR inside an AND and an AND inside an OR", function()
      expect((Q{ a = 1 } | Q{ b = 2 }) & Q{ c = 3 }, "(a = $p1 OR b = $p2) AND c = $p3", { p1 = 1, p2 = 2, p3 = 3 })
      expect(Q{ a = 1, b = 2 } | Q{ c = 3 }, "(a = $p1 AND b = $p2) OR c = $p3", { p1 = 1, p2 = 2, p3 = 3 })
      expect((Q{ a = 1 } | Q{ b = 2 }) & (Q{ c = 3 } | ~Q{ d = 4 }),
        "(a = $p1 OR b = $p2) AND (c = $p3 OR !(d = $p4))", { p1 = 1, p2 = 2, p3 = 3, p4 = 4 })
    end)

    it("flattens parts of the same kind", function()
      expect(Q{ a = 1 } | Q{ b = 2 } | Q{ c = 3 }, "a = $p1 OR b = $p2 OR c = $p3", { p1 = 1, p2 = 2, p3 = 3 })
      expect(Q{ a = 1 } & (Q{ b = 2 } & Q{ c = 3 }), "a = $p1 AND b = $p2 AND c = $p3", { p1 = 1, p2 = 2, p3 = 3 })
    end)

    it("combines with a plain filter table on either side", function()
      expect(Q{ a = 1 } | { b = 2 }, "a = $p1 OR b = $p2", { p1 = 1, p2 = 2 })
      expect({ b = 2 } & Q{ a = 1 }, "b = $p1 AND a = $p2", { p1 = 2, p2 = 1 })
    end)

    it("leaves empty parts out, as Django does", function()
      expect(Q{} | Q{ a = 1 }, "a = $p1", { p1 = 1 })
      expect(Q() & Q{ a = 1 }, "a = $p1", { p1 = 1 })
      assert.is_nil((compile(~Q{})))
      assert.is_nil((compile(Q{} | Q{})))
      local q = Q{}
      for _, city in ipairs({ "Paris", "Rome" }) do q = q | Q{ city = city } end
      expect(q, "city = $p1 OR city = $p2", { p1 = "Paris", p2 = "Rome" })
    end)

    it("is a copy: changing the table afterwards does not change the Q", function()
      local spec = { a = 1 }
      local q = Q(spec)
      spec.b = 2
      expect(q, "a = $p1", { p1 = 1 })
    end)

    it("returns a Q given a Q", function()
      local q = Q{ a = 1 }
      assert.are.equal(q, Q(q))
      assert.is_true(filter.is_q(q))
      assert.is_false(filter.is_q({}))
    end)

    it("rejects what cannot be combined", function()
      helper.raises(function() return Q{ a = 1 } | 5 end, "| expects a filter table or a Q, got number")
      helper.raises(function() return Q{ a = 1 } & "x" end, "& expects a filter table or a Q, got string")
      helper.raises(function() return Q("a = 1") end, "Q expects a filter table or a Q, got string")
    end)

    it("numbers variables in the order they appear in the text", function()
      local sql, vars = compile(Q{ b = "second" } | Q{ a = "first" } & ~Q{ c__between = { 1, 2 } })
      assert.are.equal("b = $p1 OR (a = $p2 AND !((c >= $p3 AND c <= $p4)))", sql)
      assert.are.same({ p1 = "second", p2 = "first", p3 = 1, p4 = 2 }, vars)
    end)

    it("refuses filters nested without end", function()
      local spec = {}
      spec[1] = spec
      helper.raises(function() compile(spec) end, "nested deeper than")
    end)
  end)

  describe("params", function()
    it("binds after the variables already there", function()
      local params = filter.params()
      assert.are.equal("$p1", params:bind("x"))
      local sql = filter.compile({ a = 1 }, params)
      assert.are.equal("a = $p2", sql)
      assert.are.same({ p1 = "x", p2 = 1 }, params.vars)
    end)
  end)
end)
