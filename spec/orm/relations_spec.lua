-- Relations: graph paths are checked, never pasted (unit), then record links with FETCH, edges
-- with relate and related, and the edge's schema against the engine (#integration).
local helper = require("spec.helper")
local orm = require("surrealdb.orm")
local f = require("surrealdb.orm.fields")
local model = require("surrealdb.orm.model")
local types = require("surrealdb.types")

describe("orm graph paths", function()
  it("accepts arrows, identifiers and ?", function()
    assert.are.same({ "->likes->post", "post" }, { model.graph_path("->likes->post") })
    assert.are.same({ "<-likes<-person", "person" }, { model.graph_path("<-likes<-person") })
    assert.are.same({ "<->knows<->?" }, { model.graph_path("<->knows<->?") })
    assert.are.equal("->⟨select⟩->post", (model.graph_path("->select->post")))
  end)

  it("refuses everything else, naming the position", function()
    for _, path in ipairs({
      "", "likes", "->", "->likes->post;", "->likes->post WHERE true", "->likes->post; REMOVE TABLE person",
      "->lik es", "->`likes`", "->likes.*", "->(likes WHERE x = 1)", "->likes->post[0]", "->1likes",
    }) do
      helper.raises(function() model.graph_path(path) end, "graph path")
    end
    local err = helper.raises(function() model.graph_path("->likes->post;DROP") end, "at position 14")
    assert.are.equal(14, err.details.position)
  end)
end)

describe("orm relations against the engine #integration", function()
  local db, Person, Post, Likes

  helper.client_per_block("orm_rel", function(client)
    db = client
    Person = orm.model("person", { name = f.String{ required = true }, friend = f.RecordLink{ "person" } }, { db = db })
    Post = orm.model("post", { title = f.String{ required = true }, author = f.RecordLink{ Person } }, { db = db })
    Likes = orm.edge("likes", { from = Person, to = Post, weight = f.Int{ min = 1, max = 5 },
      at = f.DateTime{ auto_now_add = true } })
  end)

  it("a RecordLink resolves with fetch, one level and nested", function()
    local ann = Person:create{ name = "Ann" }
    local bob = Person:create{ name = "Bob", friend = ann }
    Post:create{ title = "Hi", author = bob }
    local p = Person:where{ name = "Bob" }:fetch("friend"):first()
    assert.are.equal(Person, model.of(p.friend))
    assert.are.equal("Ann", p.friend.name)
    assert.are.equal(ann.id, Person:find_by{ name = "Bob" }.friend) -- without fetch: the id
    local post = Post:query():fetch("author", "author__friend"):first()
    assert.are.equal("Bob", post.author.name)
    assert.are.equal("Ann", post.author.friend.name)
  end)

  it("a record as a filter value is its id, in filter tables, arrays and Qs alike", function()
    local ann = Person:create{ name = "Ann" }
    local bob = Person:create{ name = "Bob", friend = ann }
    Person:create{ name = "Cy", friend = bob }
    Person:create{ name = "Di" }
    local function names(rows)
      local out = {}
      for i, row in ipairs(rows) do out[i] = row.name end
      table.sort(out)
      return out
    end
    assert.are.same({ "Bob" }, names(Person:where{ friend = ann }:all()))
    assert.are.same({ "Bob", "Cy" }, names(Person:where(orm.Q{ friend = ann } | orm.Q{ friend = bob }):all()))
    assert.are.same({ "Bob", "Cy" }, names(Person:where(orm.Q{ friend__in = { ann, bob } }):all()))
    assert.are.same({ "Cy" }, names(orm.query(db, "person"):where(~orm.Q{ friend__ne = bob }):all()))
    local unsaved = Person:new{ name = "Ed" }
    helper.raises(function() Person:where(orm.Q{ friend = unsaved }):all() end, "is not saved", "ValidationError")
    assert.are.equal(4, Person:query():count()) -- nothing was written by the refused filter
  end)

  it("relate checks the edge's fields and ends, and related follows paths", function()
    local ann = Person:create{ name = "Ann" }
    local bob = Person:create{ name = "Bob" }
    local hi = Post:create{ title = "Hi" }
    local yo = Post:create{ title = "Yo" }
    local like = ann:relate("likes", hi, { weight = 3 })
    assert.are.equal(Likes, model.of(like))
    assert.are.equal(ann.id, like["in"])
    assert.are.equal(hi.id, like.out)
    assert.are.equal(3, like.weight)
    assert.are.equal(types.Datetime, getmetatable(like.at))
    ann:relate(Likes, yo.id)
    bob:relate("likes", yo, { weight = 1 })

    local err = helper.raises(function() ann:relate("likes", hi, { weight = 9, bogus = 1 }) end)
    assert.are.same({ weight = "must be at most 5", bogus = "is not a field of likes" }, err.fields)
    helper.raises(function() ann:relate("likes", bob) end, "goes to post records")
    helper.raises(function() ann:relate("follows", bob) end, "no edge named follows")
    helper.raises(function() ann:relate("likes; DELETE person", hi) end, "identifier")
    helper.raises(function() ann:relate(Person, hi) end, "is a model, not an edge")
    helper.raises(function() Person:new{ name = "X" }:relate("likes", hi) end, "not saved")
    assert.are.equal(3, Likes:query():count())

    local titles = {}
    for _, post in ipairs(ann:related("->likes->post")) do
      assert.are.equal(Post, model.of(post))
      titles[#titles + 1] = post.title
    end
    table.sort(titles)
    assert.are.same({ "Hi", "Yo" }, titles)
    local fans = yo:related("<-likes<-person")
    local names = { fans[1].name, fans[2].name }
    table.sort(names)
    assert.are.same({ "Ann", "Bob" }, names)
    assert.are.equal(2, #ann:related("->likes->?"))
    local edges = ann:related("->likes")
    assert.are.equal(Likes, model.of(edges[1]))
    assert.are.same({}, hi:related("->likes->post"))
    helper.raises(function() ann:related("->likes->post; DELETE person") end, "graph path")
    assert.are.equal(2, Person:query():count())
  end)

  it("an edge's schema makes a relation table the database checks", function()
    Person:apply_schema()
    Post:apply_schema()
    Likes:apply_schema()
    local ann = Person:create{ name = "Ann" }
    local hi = Post:create{ title = "Hi" }
    ann:relate("likes", hi, { weight = 2 })
    assert.has_error(function()
      db:query("RELATE $a->likes->$b CONTENT { weight: 9 }", { a = ann.id, b = hi.id })
    end)
    assert.has_error(function()
      db:query("RELATE $a->likes->$b", { a = hi.id, b = ann.id }) -- the wrong way round
    end)
    assert.are.same({}, orm.diff_schema(db, { Person, Post, Likes }))
  end)
end)
