/*
** lio.c — lunet.save and lunet.load: tensors, state dicts and checkpoints in safetensors files.
**
**   lunet.save("w.safetensors", t)                        -- one tensor (stored as "tensor")
**   lunet.save("m.safetensors", model)                    -- anything with :state_dict()
**   lunet.save("ck.safetensors", {model = model:state_dict(), optim = opt:state_dict(),
**                                 epoch = 3, best = 0.97, rng = lunet.get_rng_state()})
**   local ck, meta = lunet.load("ck.safetensors")        -- the same structure back
**
** A nested table is flattened: each tensor is stored under its dotted path ("model.0.weight",
** "optim.state.1.exp_avg"), so the file reads naturally in PyTorch's safetensors. Numbers,
** strings and booleans go into the header's __metadata__ twice: once under their dotted path as
** plain text ("epoch": "3") for other tools, and once inside "__lunet__", a JSON tree of the whole
** structure whose leaves are type-tagged strings:
**   "t:<tensor name>"  "i:<integer>"  "f:<float: shortest exact %g, inf, -inf, nan>"
**   "s:<UTF-8 string>"  "x:<any other string as hex>"  "b:true"  "b:false"
** and whose object keys are tagged "s:<string key>" or "i:<integer key>". The tree is what load
** uses, so integers stay integers, floats stay floats, integer keys stay integer keys.
**
** lunet.load returns the structure (a tensor for a saved tensor) and a table of the raw
** __metadata__ strings (without "__lunet__"). A file written by another tool has no tree: load
** returns its tensors by name, flat. A missing or malformed file raises an error saying what is
** wrong (as dofile and torch.load do); lunet.try_load returns nil, message instead. Neither runs
** code from a file. save raises on misuse (a function in the table, two entries with one name)
** and when the file cannot be written.
**
** Low-level helpers in lunet._io (shared with lreaders.c):
**   _io.save_tensors(path, {name = tensor, …} [, {key = "value", …}])  -> true | nil, msg
**   _io.load_tensors(path)   -> {name = tensor, …}, {key = value, …} | nil, msg
**   _io.loads(bytes)         -> as lunet.load, from the bytes of a file held in a string
** And the default generator's state, unless lgenerator.c already provides them:
**   lunet.get_rng_state()    -> an int64 tensor of 5 elements (saves as I64)
**   lunet.set_rng_state(s)   -- s such a tensor (or a table of 5 integers)
*/
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lunet_impl.h"

#define IO_JSON "lunet.io.json"        /* a box owning a cJSON tree and a printed text */
#define IO_STFILE "lunet.io.stfile"    /* a box owning an nn_stfile */
#define LAYOUT_KEY "__lunet__"
#define MAX_DEPTH 100

/* ---- boxes: C resources that a Lua error must not leak ----------------------------------- */

typedef struct { cJSON *j; char *text; } JBox;
typedef struct { nn_stfile *f; } SBox;

static int jbox_gc(lua_State *L) {
  JBox *b = luaL_checkudata(L, 1, IO_JSON);
  cJSON_Delete(b->j);
  cJSON_free(b->text);
  b->j = NULL;
  b->text = NULL;
  return 0;
}

static int sbox_gc(lua_State *L) {
  SBox *b = luaL_checkudata(L, 1, IO_STFILE);
  nn_stfile_free(b->f);
  b->f = NULL;
  return 0;
}

static JBox *newjbox(lua_State *L) {
  JBox *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->j = NULL;
  b->text = NULL;
  luaL_setmetatable(L, IO_JSON);
  return b;
}

static SBox *newsbox(lua_State *L) {
  SBox *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->f = NULL;
  luaL_setmetatable(L, IO_STFILE);
  return b;
}

/* A float as the shortest text that reads back exactly, with '.' whatever the C locale says. */
static void fmt_float(char *buf, size_t size, double v) {
  if (isnan(v)) { snprintf(buf, size, "nan"); return; }
  if (isinf(v)) { snprintf(buf, size, v > 0 ? "inf" : "-inf"); return; }
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, size, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;        /* both in the C library's current locale */
  }
  char point = localeconv()->decimal_point[0];
  if (point != '.')
    for (char *p = buf; *p; p++)
      if (*p == point) *p = '.';
}

/* ---- save: flattening --------------------------------------------------------------------- */

/* Stack slots used while flattening (absolute indices). */
typedef struct {
  int names;     /* set of every leaf name used (tensor names and metadata keys) */
  int tnames;    /* array of tensor names */
  int tvals;     /* array of tensors */
  int mkeys;     /* array of metadata keys */
  int mvals;     /* array of metadata values */
  int seen;      /* tables on the current path (cycle detection) */
  int nt, nm;
} flat;

static const char *pathname(lua_State *L, int path) {
  return lua_rawlen(L, path) ? lua_tostring(L, path) : "(top)";
}

/* Claims name (a string at the top of the stack, left there) for a leaf. */
static void claim(lua_State *L, flat *F) {
  lua_pushvalue(L, -1);
  if (lua_rawget(L, F->names) != LUA_TNIL)
    luaL_error(L, "save: two entries are stored under the name '%s'", lua_tostring(L, -2));
  lua_pop(L, 1);
  lua_pushvalue(L, -1);
  lua_pushboolean(L, 1);
  lua_rawset(L, F->names);
}

static void add_meta(lua_State *L, flat *F, int path, const char *text, size_t len) {
  lua_pushvalue(L, path);
  claim(L, F);
  lua_rawseti(L, F->mkeys, ++F->nm);
  lua_pushlstring(L, text, len);
  lua_rawseti(L, F->mvals, F->nm);
}

/* Text that JSON can carry as it is: well-formed UTF-8 without NUL bytes. */
static bool plain_text(const char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned char c = (unsigned char)s[i];
    size_t n;
    uint32_t cp, min;
    if (c == 0) return false;
    if (c < 0x80) { i++; continue; }
    else if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; min = 0x10000; }
    else return false;
    if (len - i <= n) return false;
    for (size_t k = 1; k <= n; k++) {
      if (((unsigned char)s[i + k] & 0xC0) != 0x80) return false;
      cp = cp << 6 | ((unsigned char)s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

/* Pushes the bytes of s as lowercase hex ("x:" leaves: binary strings such as a generator's
   state). */
static void push_hex(lua_State *L, const char *s, size_t len) {
  static const char digits[] = "0123456789abcdef";
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, 2 * len + 1);
  for (size_t i = 0; i < len; i++) {
    p[2 * i] = digits[(unsigned char)s[i] >> 4];
    p[2 * i + 1] = digits[(unsigned char)s[i] & 15];
  }
  luaL_pushresultsize(&b, 2 * len);
}

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Pushes the bytes that hex text h encodes; false (nothing pushed) if it is not hex. */
static bool push_unhex(lua_State *L, const char *h) {
  size_t n = strlen(h);
  if (n % 2) return false;
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, n / 2 + 1);
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval(h[2 * i]), lo = hexval(h[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      luaL_pushresultsize(&b, 0);
      lua_pop(L, 1);
      return false;
    }
    p[i] = (char)(hi << 4 | lo);
  }
  luaL_pushresultsize(&b, n / 2);
  return true;
}

typedef struct { int isint; lua_Integer i; const char *s; size_t len; } keyref;

static int cmp_keys(const void *a, const void *b) {
  const keyref *x = a, *y = b;
  if (x->isint != y->isint) return x->isint ? -1 : 1;         /* integers first */
  if (x->isint) return x->i < y->i ? -1 : x->i > y->i;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->s, y->s, n);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

static cJSON *json_or_raise(lua_State *L, cJSON *j) {
  if (j == NULL) luaL_error(L, "save: out of memory");
  return j;
}

/* Adds node under key to parent (an object), or sets box->j when parent is NULL. */
static void attach(lua_State *L, JBox *box, cJSON *parent, const char *key, cJSON *node) {
  if (parent == NULL) box->j = node;
  else if (!cJSON_AddItemToObject(parent, key, node)) {
    cJSON_Delete(node);
    luaL_error(L, "save: out of memory");
  }
}

static void flatten(lua_State *L, flat *F, JBox *box, cJSON *parent, const char *key, int idx,
                    int path, int depth);

/* A tensor: named by its path ("tensor" at the top), kept in F, "t:<name>" in the layout. */
static void flatten_tensor(lua_State *L, flat *F, JBox *box, cJSON *parent, const char *key,
                           int idx, int path) {
  if (lunet_totensor(L, idx) == NULL)
    luaL_error(L, "save: the tensor at '%s' is closed", pathname(L, path));
  if (lua_rawlen(L, path) == 0) lua_pushliteral(L, "tensor");
  else lua_pushvalue(L, path);
  claim(L, F);
  const char *name = lua_tostring(L, -1);
  lua_pushfstring(L, "t:%s", name);
  attach(L, box, parent, key, json_or_raise(L, cJSON_CreateString(lua_tostring(L, -1))));
  lua_pop(L, 1);
  lua_rawseti(L, F->tnames, ++F->nt);
  lua_pushvalue(L, idx);
  lua_rawseti(L, F->tvals, F->nt);
}

/* A number, string or boolean: metadata under its path, and "<tag><text>" in the layout
   (i: an integer, f: a float, b: a boolean, s: text, x: other bytes in hex). */
static void flatten_scalar(lua_State *L, flat *F, JBox *box, cJSON *parent, const char *key,
                           int idx, int path) {
  char buf[64];
  const char *tag;
  size_t len;
  int t = lua_type(L, idx);
  if (t == LUA_TNUMBER && lua_isinteger(L, idx)) {
    snprintf(buf, sizeof buf, "%lld", (long long)lua_tointeger(L, idx));
    lua_pushstring(L, buf);
    tag = "i:";
  } else if (t == LUA_TNUMBER) {
    fmt_float(buf, sizeof buf, (double)lua_tonumber(L, idx));
    lua_pushstring(L, buf);
    tag = "f:";
  } else if (t == LUA_TBOOLEAN) {
    lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
    tag = "b:";
  } else {
    size_t sl;
    const char *sv = lua_tolstring(L, idx, &sl);
    if (plain_text(sv, sl)) {
      lua_pushvalue(L, idx);
      tag = "s:";
    } else {
      push_hex(L, sv, sl);
      tag = "x:";
    }
  }
  const char *text = lua_tolstring(L, -1, &len);
  add_meta(L, F, path, text, len);
  lua_pushstring(L, tag);
  lua_pushvalue(L, -2);
  lua_concat(L, 2);
  attach(L, box, parent, key, json_or_raise(L, cJSON_CreateString(lua_tostring(L, -1))));
  lua_pop(L, 2);
}

/* The keys of the table at idx (strings and integers only), sorted (integers, then strings) so
   that the same table gives the same bytes: pushes an array of them (*keys, in a userdata)
   and a table anchoring their strings, since a state_dict() called later could change the
   table. Returns how many. */
static size_t push_sorted_keys(lua_State *L, int idx, int path, keyref **keys) {
  size_t nk = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    int kt = lua_type(L, -1);
    if (!(kt == LUA_TSTRING || (kt == LUA_TNUMBER && lua_isinteger(L, -1)))) {
      lua_pop(L, 1);
      luaL_error(L, "save: the table at '%s' has a %s key (only strings and integers)",
                 pathname(L, path), kt == LUA_TNUMBER ? "float" : luaL_typename(L, -1));
    }
    nk++;
  }
  keyref *ks = lua_newuserdatauv(L, (nk ? nk : 1) * sizeof *ks, 0);
  int anchor = lua_gettop(L) + 1;
  lua_createtable(L, (int)nk, 0);
  size_t i = 0;
  lua_pushnil(L);
  while (i < nk && lua_next(L, idx)) {
    lua_pop(L, 1);
    keyref *k = &ks[i++];
    k->isint = lua_type(L, -1) == LUA_TNUMBER;
    k->i = k->isint ? lua_tointeger(L, -1) : 0;
    k->s = k->isint ? NULL : lua_tolstring(L, -1, &k->len);
    lua_pushvalue(L, -1);
    lua_rawseti(L, anchor, (lua_Integer)i);
  }
  lua_settop(L, anchor);                  /* (a traversal stopped early leaves its key) */
  qsort(ks, i, sizeof *ks, cmp_keys);
  *keys = ks;
  return i;
}

/* A plain table: a JSON object in the layout, each entry flattened under its tagged key
   ("i:1", "s:name") with its dotted path; a table inside itself is refused. */
static void flatten_table(lua_State *L, flat *F, JBox *box, cJSON *parent, const char *key,
                          int idx, int path, int depth) {
  char buf[64];
  lua_pushvalue(L, idx);
  if (lua_rawget(L, F->seen) != LUA_TNIL)
    luaL_error(L, "save: the table at '%s' contains itself", pathname(L, path));
  lua_pop(L, 1);
  lua_pushvalue(L, idx);
  lua_pushboolean(L, 1);
  lua_rawset(L, F->seen);

  cJSON *obj = json_or_raise(L, cJSON_CreateObject());
  attach(L, box, parent, key, obj);
  int top = lua_gettop(L);
  keyref *keys;
  size_t n = push_sorted_keys(L, idx, path, &keys);
  for (size_t j = 0; j < n; j++) {
    keyref *k = &keys[j];
    if (k->isint) {
      snprintf(buf, sizeof buf, "%lld", (long long)k->i);
      lua_pushinteger(L, k->i);
    } else {
      if (!plain_text(k->s, k->len))
        luaL_error(L, "save: a key in the table at '%s' is not UTF-8 text", pathname(L, path));
      lua_pushlstring(L, k->s, k->len);
    }
    lua_rawget(L, idx);
    int v = lua_gettop(L);
    /* the child's path and its tagged key */
    if (lua_rawlen(L, path)) { lua_pushvalue(L, path); lua_pushliteral(L, "."); }
    if (k->isint) lua_pushstring(L, buf); else lua_pushlstring(L, k->s, k->len);
    lua_concat(L, lua_rawlen(L, path) ? 3 : 1);
    int cpath = lua_gettop(L);
    lua_pushstring(L, k->isint ? "i:" : "s:");
    if (k->isint) lua_pushstring(L, buf); else lua_pushlstring(L, k->s, k->len);
    lua_concat(L, 2);
    flatten(L, F, box, obj, lua_tostring(L, -1), v, cpath, depth + 1);
    lua_settop(L, v - 1);
  }
  lua_settop(L, top);
  lua_pushvalue(L, idx);
  lua_pushnil(L);
  lua_rawset(L, F->seen);
}

/* Flattens the value at idx, whose dotted path is the string at path, into F and the layout
   tree (node under key of parent): a module or an optimizer through its state_dict(). */
static void flatten(lua_State *L, flat *F, JBox *box, cJSON *parent, const char *key, int idx,
                    int path, int depth) {
  luaL_checkstack(L, 12, "save: nesting too deep");
  if (depth > MAX_DEPTH) luaL_error(L, "save: nesting deeper than %d at '%s'", MAX_DEPTH,
                                    pathname(L, path));
  int t = lua_type(L, idx);
  if (t == LUA_TUSERDATA && luaL_testudata(L, idx, LUNET_TENSOR)) {
    flatten_tensor(L, F, box, parent, key, idx, path);
    return;
  }
  if (t == LUA_TNUMBER || t == LUA_TSTRING || t == LUA_TBOOLEAN) {
    if (depth == 0)
      luaL_error(L, "save: expects a tensor, a table or a module, got %s", luaL_typename(L, idx));
    flatten_scalar(L, F, box, parent, key, idx, path);
    return;
  }
  if (t == LUA_TTABLE || t == LUA_TUSERDATA) {
    if (lua_getfield(L, idx, "state_dict") == LUA_TFUNCTION) {
      lua_pushvalue(L, idx);
      lua_call(L, 1, 1);
      int r = lua_gettop(L);
      if (!lua_istable(L, r))
        luaL_error(L, "save: state_dict() at '%s' returned a %s, not a table",
                   pathname(L, path), luaL_typename(L, r));
      flatten(L, F, box, parent, key, r, path, depth);
      lua_pop(L, 1);
      return;
    }
    lua_pop(L, 1);
  }
  if (t != LUA_TTABLE)
    luaL_error(L, "save: cannot save a %s (at '%s')", luaL_typename(L, idx), pathname(L, path));
  flatten_table(L, F, box, parent, key, idx, path, depth);
}

/* Saves tensors F->tnames/F->tvals with metadata F->mkeys/F->mvals; pushes true. A file that
   cannot be written raises, or with soft pushes nil, msg. */
static int do_save(lua_State *L, const char *path, flat *F, bool soft) {
  nn_named *ts = lua_newuserdatauv(L, (size_t)(F->nt ? F->nt : 1) * sizeof *ts, 0);
  nn_meta *ms = lua_newuserdatauv(L, (size_t)(F->nm ? F->nm : 1) * sizeof *ms, 0);
  for (int i = 1; i <= F->nt; i++) {
    lua_rawgeti(L, F->tnames, i);
    ts[i - 1].name = lua_tostring(L, -1);     /* alive: held by the tnames array */
    lua_pop(L, 1);
    lua_rawgeti(L, F->tvals, i);
    ts[i - 1].t = lunet_checktensor(L, -1);
    lua_pop(L, 1);
  }
  for (int i = 1; i <= F->nm; i++) {
    lua_rawgeti(L, F->mkeys, i);
    ms[i - 1].key = lua_tostring(L, -1);
    lua_pop(L, 1);
    lua_rawgeti(L, F->mvals, i);
    ms[i - 1].value = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  nn_ctx *ctx = lunet_ctx(L);
  nn_status s = nn_save_safetensors(ctx, path, F->nt, ts, F->nm, ms);
  if (s == NN_ERR_IO && soft) {
    luaL_pushfail(L);
    lua_pushstring(L, nn_ctx_errmsg(ctx));
    return 2;
  }
  lunet_check(L, s);
  lua_pushboolean(L, 1);
  return 1;
}

static void flat_init(lua_State *L, flat *F) {
  for (int i = 0; i < 6; i++) lua_newtable(L);
  int top = lua_gettop(L);
  F->names = top - 5; F->tnames = top - 4; F->tvals = top - 3;
  F->mkeys = top - 2; F->mvals = top - 1; F->seen = top;
  F->nt = F->nm = 0;
}

/* lunet.save(path, obj) -> true; raises when obj cannot be saved or the file cannot be written */
static int io_save(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  flat F;
  flat_init(L, &F);
  lua_pushliteral(L, LAYOUT_KEY);     /* reserved: no leaf may take the layout's key */
  lua_pushboolean(L, 1);
  lua_rawset(L, F.names);
  JBox *box = newjbox(L);
  lua_pushliteral(L, "");
  int root_path = lua_gettop(L);
  flatten(L, &F, box, NULL, NULL, 2, root_path, 0);
  box->text = cJSON_PrintUnformatted(box->j);
  if (box->text == NULL) luaL_error(L, "save: out of memory");
  lua_pushliteral(L, LAYOUT_KEY);
  lua_rawseti(L, F.mkeys, ++F.nm);
  lua_pushstring(L, box->text);
  lua_rawseti(L, F.mvals, F.nm);
  return do_save(L, path, &F, false);
}

/* _io.save_tensors(path, {name = tensor} [, {key = value}]) -> true | nil, msg */
static int io_save_tensors(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 3);
  flat F;
  flat_init(L, &F);
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "save_tensors: tensor names must be strings");
    if (lunet_totensor(L, -1) == NULL)
      luaL_error(L, "save_tensors: '%s' is not an open tensor", lua_tostring(L, -2));
    lua_rawseti(L, F.tvals, ++F.nt);
    lua_pushvalue(L, -1);
    lua_rawseti(L, F.tnames, F.nt);
  }
  if (lua_istable(L, 3)) {
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "save_tensors: metadata keys and values must be strings");
      lua_rawseti(L, F.mvals, ++F.nm);
      lua_pushvalue(L, -1);
      lua_rawseti(L, F.mkeys, F.nm);
    }
  }
  return do_save(L, path, &F, true);
}

/* ---- load --------------------------------------------------------------------------------- */

/* Pushes the value of layout node j and returns true; on a malformed node leaves the stack as
   it was and writes why into err. tensors: name -> tensor; used: names taken. */
static bool unflatten(lua_State *L, const cJSON *j, int tensors, int used, int depth,
                      char *err, size_t errsize) {
  int base = lua_gettop(L);
  if (depth > MAX_DEPTH || !lua_checkstack(L, 8)) {
    snprintf(err, errsize, "nesting deeper than %d", MAX_DEPTH);
    return false;
  }
  if (cJSON_IsString(j)) {
    const char *s = j->valuestring;
    bool ok = true;
    if (strncmp(s, "t:", 2) == 0) {
      if (lua_getfield(L, tensors, s + 2) == LUA_TNIL) {
        snprintf(err, errsize, "it names tensor '%.200s', which the file does not hold", s + 2);
        ok = false;
      } else {
        lua_pushboolean(L, 1);
        lua_setfield(L, used, s + 2);
      }
    } else if (strncmp(s, "i:", 2) == 0) {
      ok = lua_stringtonumber(L, s + 2) != 0 && lua_isinteger(L, -1);
      if (!ok) snprintf(err, errsize, "bad integer '%.200s'", s + 2);
    } else if (strncmp(s, "f:", 2) == 0) {
      if (strcmp(s + 2, "inf") == 0) lua_pushnumber(L, (lua_Number)HUGE_VAL);
      else if (strcmp(s + 2, "-inf") == 0) lua_pushnumber(L, -(lua_Number)HUGE_VAL);
      else if (strcmp(s + 2, "nan") == 0) lua_pushnumber(L, (lua_Number)NAN);
      else if (lua_stringtonumber(L, s + 2) != 0) {
        lua_Number v = lua_tonumber(L, -1);     /* "f:1" reads as an integer: make it a float */
        lua_pop(L, 1);
        lua_pushnumber(L, v);
      }
      else {
        snprintf(err, errsize, "bad float '%.200s'", s + 2);
        ok = false;
      }
    } else if (strncmp(s, "s:", 2) == 0) {
      lua_pushstring(L, s + 2);
    } else if (strncmp(s, "x:", 2) == 0) {
      ok = push_unhex(L, s + 2);
      if (!ok) snprintf(err, errsize, "bad hex string '%.200s'", s + 2);
    } else if (strcmp(s, "b:true") == 0 || strcmp(s, "b:false") == 0) {
      lua_pushboolean(L, s[2] == 't');
    } else {
      snprintf(err, errsize, "leaf '%.200s' has an unknown tag", s);
      ok = false;
    }
    if (!ok) lua_settop(L, base);
    return ok;
  }
  if (!cJSON_IsObject(j)) {
    snprintf(err, errsize, "a node is neither a string nor an object");
    return false;
  }
  lua_newtable(L);
  const cJSON *c;
  cJSON_ArrayForEach(c, j) {
    const char *k = c->string;
    if (strncmp(k, "i:", 2) == 0) {
      if (lua_stringtonumber(L, k + 2) == 0 || !lua_isinteger(L, -1)) {
        snprintf(err, errsize, "bad integer key '%.200s'", k + 2);
        lua_settop(L, base);
        return false;
      }
    } else if (strncmp(k, "s:", 2) == 0) {
      lua_pushstring(L, k + 2);
    } else {
      snprintf(err, errsize, "key '%.200s' has an unknown tag", k);
      lua_settop(L, base);
      return false;
    }
    lua_pushvalue(L, -1);
    if (lua_rawget(L, base + 1) != LUA_TNIL) {
      snprintf(err, errsize, "key '%.200s' appears twice", k);
      lua_settop(L, base);
      return false;
    }
    lua_pop(L, 1);
    if (!unflatten(L, c, tensors, used, depth + 1, err, errsize)) {
      lua_settop(L, base);
      return false;
    }
    lua_rawset(L, base + 1);
  }
  return true;
}

/* Turns the file in box at sbox into (obj, meta) on the stack; returns 2, or pushes nil, msg. */
static int finish_load(lua_State *L, nn_stfile *f, const char *what) {
  int n = nn_stfile_count(f), nm = nn_stfile_meta_count(f);
  lua_createtable(L, 0, n);
  int tensors = lua_gettop(L);
  for (int i = 0; i < n; i++) {
    nn_tensor *t = nn_stfile_tensor(f, i);
    nn_tensor_retain(t);
    lunet_pushtensor(L, t);
    lua_setfield(L, tensors, nn_stfile_name(f, i));
  }
  lua_createtable(L, 0, nm);
  int meta = lua_gettop(L);
  const char *layout = NULL;
  for (int i = 0; i < nm; i++) {
    const char *k, *v;
    nn_stfile_meta(f, i, &k, &v);
    if (strcmp(k, LAYOUT_KEY) == 0) { layout = v; continue; }
    lua_pushstring(L, v);
    lua_setfield(L, meta, k);
  }
  if (layout == NULL) {                     /* another tool's file: tensors by name */
    lua_pushvalue(L, tensors);
    lua_pushvalue(L, meta);
    return 2;
  }
  JBox *box = newjbox(L);
  box->j = cJSON_Parse(layout);
  if (box->j == NULL) {
    luaL_pushfail(L);
    lua_pushfstring(L, "load: %s: malformed %s metadata: not JSON", what, LAYOUT_KEY);
    return 2;
  }
  lua_newtable(L);
  int used = lua_gettop(L);
  char err[320];
  if (!unflatten(L, box->j, tensors, used, 0, err, sizeof err)) {
    luaL_pushfail(L);
    lua_pushfstring(L, "load: %s: malformed %s metadata: %s", what, LAYOUT_KEY, err);
    return 2;
  }
  int result = lua_gettop(L);
  for (int i = 0; i < n; i++)
    if (lua_getfield(L, used, nn_stfile_name(f, i)) == LUA_TNIL) {
      luaL_pushfail(L);
      lua_pushfstring(L, "load: %s: tensor '%s' is missing from the %s metadata", what,
                      nn_stfile_name(f, i), LAYOUT_KEY);
      return 2;
    } else {
      lua_pop(L, 1);
    }
  lua_pushvalue(L, result);
  lua_pushvalue(L, meta);
  return 2;
}

/* Runs load_safetensors (path) or parse_safetensors (bytes); pushes nil, msg on failure. */
static nn_stfile *open_file(lua_State *L, const char *path, const char *bytes, size_t len) {
  SBox *b = newsbox(L);
  nn_ctx *ctx = lunet_ctx(L);
  nn_status s = path ? nn_load_safetensors(ctx, path, &b->f) : nn_parse_safetensors(ctx, bytes, len, &b->f);
  if (s == NN_OK) return b->f;
  luaL_pushfail(L);
  lua_pushstring(L, nn_ctx_errmsg(ctx));
  return NULL;
}

/* lunet.try_load(path) -> obj, meta | nil, msg */
static int io_try_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  nn_stfile *f = open_file(L, path, NULL, 0);
  if (f == NULL) return 2;
  lua_pushfstring(L, "'%s'", path);
  return finish_load(L, f, lua_tostring(L, -1));
}

/* lunet.load(path) -> obj, meta; raises, as dofile and torch.load do, so that a typo is
   reported where it happens and not as a nil further on. */
static int io_load(lua_State *L) {
  int n = io_try_load(L);
  if (lua_isnil(L, -n)) return lua_error(L);    /* the message is on top */
  return n;
}

/* _io.loads(bytes) -> obj, meta | nil, msg */
static int io_loads(lua_State *L) {
  size_t len;
  const char *bytes = luaL_checklstring(L, 1, &len);
  nn_stfile *f = open_file(L, NULL, bytes, len);
  if (f == NULL) return 2;
  return finish_load(L, f, "(bytes)");
}

/* _io.load_tensors(path) -> {name = tensor}, {key = value} | nil, msg: no layout applied */
static int io_load_tensors(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  nn_stfile *f = open_file(L, path, NULL, 0);
  if (f == NULL) return 2;
  lua_newtable(L);
  for (int i = 0; i < nn_stfile_count(f); i++) {
    nn_tensor *t = nn_stfile_tensor(f, i);
    nn_tensor_retain(t);
    lunet_pushtensor(L, t);
    lua_setfield(L, -2, nn_stfile_name(f, i));
  }
  lua_newtable(L);
  for (int i = 0; i < nn_stfile_meta_count(f); i++) {
    const char *k, *v;
    nn_stfile_meta(f, i, &k, &v);
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
  }
  return 2;
}

/* ---- the default generator's state -------------------------------------------------------- */

static int io_get_rng_state(lua_State *L) {
  nn_ctx *ctx = lunet_ctx(L);
  uint64_t w[5];
  nn_rng_get_state(nn_ctx_rng(ctx), w);
  int64_t v[5], shape[1] = {5};
  for (int i = 0; i < 5; i++) memcpy(&v[i], &w[i], sizeof v[i]);
  LTensor *b = lunet_newbox(L);
  lunet_check(L, nn_tensor_from_data(ctx, NN_I64, 1, shape, v, &b->t));
  return 1;
}

static int io_set_rng_state(lua_State *L) {
  nn_ctx *ctx = lunet_ctx(L);
  uint64_t w[5];
  nn_tensor *t = lunet_totensor(L, 1);
  if (t) {
    if (nn_tensor_dtype(t) != NN_I64 || nn_tensor_numel(t) != 5)
      luaL_error(L, "set_rng_state: expects an int64 tensor of 5 elements (from get_rng_state)");
    for (int64_t i = 0; i < 5; i++) {
      int64_t x;
      nn_tensor *e = NULL;
      lunet_check(L, nn_select(ctx, t, 0, i, &e));
      nn_status s = nn_item_i64(ctx, e, &x);
      nn_tensor_release(e);
      lunet_check(L, s);
      memcpy(&w[i], &x, sizeof x);
    }
  } else if (lua_istable(L, 1) && lua_rawlen(L, 1) == 5) {
    for (int i = 0; i < 5; i++) {
      lua_rawgeti(L, 1, i + 1);
      if (!lua_isinteger(L, -1))
        luaL_error(L, "set_rng_state: element %d is not an integer", i + 1);
      lua_Integer x = lua_tointeger(L, -1);
      memcpy(&w[i], &x, sizeof x);
      lua_pop(L, 1);
    }
  } else {
    luaL_error(L, "set_rng_state: expects an int64 tensor of 5 elements (from get_rng_state), "
               "got %s", luaL_typename(L, 1));
  }
  lunet_check(L, nn_rng_set_state(ctx, nn_ctx_rng(ctx), w));
  return 0;
}

/* ---- registration ------------------------------------------------------------------------- */

static const luaL_Reg io_helpers[] = {
  {"save_tensors", io_save_tensors},
  {"load_tensors", io_load_tensors},
  {"loads", io_loads},
  {NULL, NULL}
};

/* Sets module[name] = f unless the module table already has it (raw: no lazy loading). */
static void setfunc_if_absent(lua_State *L, const char *name, lua_CFunction f) {
  lua_pushstring(L, name);
  if (lua_rawget(L, -2) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_pushstring(L, name);
    lua_pushcfunction(L, f);
    lua_rawset(L, -3);
  } else {
    lua_pop(L, 1);
  }
}

void lunet_open_io(lua_State *L) {
  luaL_newmetatable(L, IO_JSON);
  lua_pushcfunction(L, jbox_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newmetatable(L, IO_STFILE);
  lua_pushcfunction(L, sbox_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);

  lua_pushliteral(L, "save");
  lua_pushcfunction(L, io_save);
  lua_rawset(L, -3);
  lua_pushliteral(L, "load");
  lua_pushcfunction(L, io_load);
  lua_rawset(L, -3);
  lua_pushliteral(L, "try_load");
  lua_pushcfunction(L, io_try_load);
  lua_rawset(L, -3);
  setfunc_if_absent(L, "get_rng_state", io_get_rng_state);
  setfunc_if_absent(L, "set_rng_state", io_set_rng_state);

  lua_pushliteral(L, "_io");
  if (lua_rawget(L, -2) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushliteral(L, "_io");
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
  }
  luaL_setfuncs(L, io_helpers, 0);
  lua_pop(L, 1);
}
