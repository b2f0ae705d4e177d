/*
** main.c — `lunet`, the stand-alone runner and REPL.
**
**   lunet script.lua a b      run a script; arg = {[0] = "script.lua", "a", "b", [-1] = "lunet"}
**   lunet -e 'print(1)' -l m  run a statement, require a module into a global
**   lunet                     the REPL (stdin a terminal) or run stdin (stdin a pipe)
**
** The behaviour is Lua 5.4's lua.c (options, the arg table, LUNET_INIT like LUA_INIT, every
** chunk run inside lua_pcall with a traceback, exit status 1 on error) plus what a numeric
** REPL needs: `lunet` preloaded as a global, line editing and persistent history through
** libedit (BSD licence), tab completion of globals and of fields after `x.` / `x:`, and
** Ctrl-C that stops Lua code through a hook and long C kernels through nn_ctx_interrupt.
*/
#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <editline/readline.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lunet.h"

#ifndef LUNET_VERSION
#define LUNET_VERSION NN_VERSION
#endif
#ifndef LUNET_LUA_BUILD_DIR
#define LUNET_LUA_BUILD_DIR "bindings/lua"
#endif
#ifndef LUNET_LUA_INSTALL_DIR
#define LUNET_LUA_INSTALL_DIR "/usr/local/share/lua/5.4"
#endif
#ifndef LUNET_DATA_BUILD_DIR
#define LUNET_DATA_BUILD_DIR "data"
#endif
#ifndef LUNET_DATA_INSTALL_DIR
#define LUNET_DATA_INSTALL_DIR "/usr/local/share/lunet"
#endif

#define PROGNAME "lunet"
#define PROMPT "> "
#define PROMPT2 ">> "
#define INIT_VAR "LUNET_INIT"
#define HISTORY_VAR "LUNET_HISTORY"
#define HISTORY_FILE ".lunet_history"
#define HISTORY_MAX 1000
#define EOFMARK "<eof>"

static const char *progname = PROGNAME; /* NULL in the REPL: no prefix on errors */

/* ===================================================================== */
/* Lua's allocator and state                                             */
/* ===================================================================== */

/* Why: every tensor a script makes is a small userdata that the collector frees in bursts
   (thousands per full collection), which overflows malloc's per-thread cache and sends each
   block through its slow path. Freed blocks up to SMALL_MAX bytes are kept instead on one
   list per 16-byte size class and handed out again; blocks in a class are all allocated at
   the class's size, so any of them fits any request of that class. */
#define SMALL_MAX 256
#define NCLASS 16   /* classes of 16..256 bytes */
#define CACHE_MAX ((size_t)16 << 20) /* bytes kept on the lists at most */

typedef struct Block { struct Block *next; } Block;
typedef struct {
  Block *free[NCLASS];
  size_t cached;
} LuaHeap;

static size_t class_of(size_t n) { return (n - 1) >> 4; } /* n in 1..SMALL_MAX */

static void *small_get(LuaHeap *h, size_t n) {
  size_t c = class_of(n);
  Block *b = h->free[c];
  if (b == NULL) return malloc((c + 1) << 4);
  h->free[c] = b->next;
  h->cached -= (c + 1) << 4;
  return b;
}

static void small_put(LuaHeap *h, void *p, size_t n) {
  size_t c = class_of(n);
  if (h->cached + ((c + 1) << 4) > CACHE_MAX) { free(p); return; }
  ((Block *)p)->next = h->free[c];
  h->free[c] = p;
  h->cached += (c + 1) << 4;
}

/* lua_Alloc: osize is the block's size when ptr is not NULL (Lua's contract) */
static void *heap_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  LuaHeap *h = ud;
  void *q;
#ifdef __SANITIZE_ADDRESS__
  (void)h; (void)osize; (void)q;  /* AddressSanitizer then sees every block's whole life */
  if (nsize == 0) { free(ptr); return NULL; }
  return realloc(ptr, nsize);
#endif
  if (ptr == NULL) osize = 0;
  if (nsize == 0) {
    if (ptr == NULL) return NULL;
    if (osize <= SMALL_MAX) small_put(h, ptr, osize);
    else free(ptr);
    return NULL;
  }
  if (nsize <= SMALL_MAX) {
    if (ptr != NULL && osize <= SMALL_MAX && class_of(osize) == class_of(nsize)) return ptr;
    q = small_get(h, nsize);
  } else if (ptr != NULL && osize > SMALL_MAX) {
    return realloc(ptr, nsize);
  } else {
    q = malloc(nsize);
  }
  if (q == NULL || ptr == NULL) return q; /* on failure Lua keeps the old block */
  memcpy(q, ptr, osize < nsize ? osize : nsize);
  if (osize <= SMALL_MAX) small_put(h, ptr, osize);
  else free(ptr);
  return q;
}

static void heap_clear(LuaHeap *h) {
  for (size_t c = 0; c < NCLASS; c++)
    while (h->free[c]) { Block *b = h->free[c]; h->free[c] = b->next; free(b); }
  h->cached = 0;
}

/* luaL_newstate's panic and warning functions (lauxlib.c), for a state made with our
   allocator: warnings start off; "@on" / "@off" switch them */
static int panic(lua_State *L) {
  const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                   : "error object is not a string";
  lua_writestringerror("PANIC: unprotected error in call to Lua API (%s)\n", msg);
  return 0;
}

static void warnfoff(void *ud, const char *message, int tocont);
static void warnfon(void *ud, const char *message, int tocont);

static int checkcontrol(lua_State *L, const char *message, int tocont) {
  if (tocont || *(message++) != '@') return 0;
  if (strcmp(message, "off") == 0) lua_setwarnf(L, warnfoff, L);
  else if (strcmp(message, "on") == 0) lua_setwarnf(L, warnfon, L);
  return 1;
}

static void warnfoff(void *ud, const char *message, int tocont) {
  checkcontrol(ud, message, tocont);
}

static void warnfcont(void *ud, const char *message, int tocont) {
  lua_State *L = ud;
  lua_writestringerror("%s", message);
  if (tocont) {
    lua_setwarnf(L, warnfcont, L);
  } else {
    lua_writestringerror("%s", "\n");
    lua_setwarnf(L, warnfon, L);
  }
}

static void warnfon(void *ud, const char *message, int tocont) {
  if (checkcontrol(ud, message, tocont)) return;
  lua_writestringerror("%s", "Lua warning: ");
  warnfcont(ud, message, tocont);
}

static lua_State *newstate(LuaHeap *h) {
  lua_State *L = lua_newstate(heap_alloc, h);
  if (L != NULL) {
    lua_atpanic(L, panic);
    lua_setwarnf(L, warnfoff, L);
  }
  return L;
}

/* ===================================================================== */
/* Interrupts                                                            */
/* ===================================================================== */

/* Why: a C signal handler may not touch a Lua state, so SIGINT only sets a hook that raises
   "interrupted!" at the next Lua call, return or instruction (lua.c's laction/lstop), and
   sets the context's flag that long C kernels poll. A second Ctrl-C before the first one
   was served (a kernel that never polls) kills the process, as lua.c does. At the prompt
   Ctrl-C only sets got_sigint: the line editor's read fails and the line is dropped. */
static lua_State *globalL = NULL;
static nn_ctx *globalctx = NULL;
static volatile sig_atomic_t executing = 0;  /* 0 idle, 1 running a chunk, 2 interrupt sent */
static volatile sig_atomic_t hook_set = 0;
static volatile sig_atomic_t got_sigint = 0;
static volatile sig_atomic_t in_repl = 0;
static volatile sig_atomic_t in_readline = 0;
static volatile sig_atomic_t alarm_set = 0;
static pthread_t main_thread; /* BLAS worker threads may receive the signal first */

static int msghandler(lua_State *L);

static void lstop(lua_State *L, lua_Debug *ar) {
  lua_sethook(L, NULL, 0, 0);
  hook_set = 0;
  executing = 1;
  /* A kernel already raised its own "interrupted" error: let its message handler run. */
  if (ar->event == LUA_HOOKCALL && lua_getinfo(L, "f", ar)) {
    lua_CFunction f = lua_tocfunction(L, -1);
    lua_pop(L, 1);
    if (f == msghandler) return;
  }
  luaL_error(L, "interrupted!");
}

static void on_sigint(int sig, siginfo_t *info, void *uc);

/* handler NULL: the default action. No SA_RESTART: a blocked read returns (EINTR). */
static void setsigint(int on) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  if (on) {
    sa.sa_sigaction = on_sigint;
    sa.sa_flags = SA_SIGINFO;
  } else
    sa.sa_handler = SIG_DFL;
  sigaction(SIGINT, &sa, NULL);
}

/* Why the thread test: the signal must interrupt the main thread's read() (the prompt) and
   set the hook from the thread that runs Lua, but a process-directed SIGINT (libedit
   re-raises it with kill) can land on a BLAS worker. Such a thread passes it on and keeps
   SIGINT blocked from then on (the mask restored on return is uc_sigmask), so later ones
   go straight to the main thread. */
static void on_sigint(int sig, siginfo_t *info, void *uc) {
  (void)info;
  if (!pthread_equal(pthread_self(), main_thread)) {
    sigaddset(&((ucontext_t *)uc)->uc_sigmask, sig);
    pthread_kill(main_thread, sig);
    return;
  }
  if (executing == 1) {
    executing = 2;
    hook_set = 1;
    lua_sethook(globalL, lstop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
    if (globalctx) nn_ctx_interrupt(globalctx);
  } else if (executing == 2 || !in_repl) {
    setsigint(0); /* stuck, or not interactive: die as the default action would */
    raise(sig);
  } else {
    got_sigint = 1;
    if (in_readline) { /* see on_sigalrm */
      alarm_set = 1;
      alarm(1);
    }
  }
}

/* Why: libedit shows the prompt before it calls read(); a Ctrl-C in between interrupts
   nothing. If the editor is still reading a second later, the Ctrl-C is sent again. */
static void on_sigalrm(int sig) {
  (void)sig;
  if (in_readline && got_sigint) pthread_kill(main_thread, SIGINT);
}

/* ===================================================================== */
/* Messages and protected calls                                          */
/* ===================================================================== */

static void l_message(const char *pname, const char *msg) {
  if (pname) lua_writestringerror("%s: ", pname);
  lua_writestringerror("%s\n", msg);
}

static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    l_message(progname, msg ? msg : "(error object is not a string)");
    lua_pop(L, 1);
  }
  return status;
}

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (hook_set) { /* a kernel stopped first: the hook has nothing left to do */
    lua_sethook(L, NULL, 0, 0);
    hook_set = 0;
    executing = 1;
  }
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Runs the function under narg arguments with a traceback handler and Ctrl-C armed. */
static int docall(lua_State *L, int narg, int nres) {
  int status;
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  globalL = L;
  if (globalctx) nn_ctx_clear_interrupt(globalctx);
  executing = 1;
  status = lua_pcall(L, narg, nres, base);
  executing = 0;
  if (hook_set) {
    lua_sethook(L, NULL, 0, 0);
    hook_set = 0;
  }
  lua_remove(L, base);
  return status;
}

/* ===================================================================== */
/* Version                                                               */
/* ===================================================================== */

/* "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..." -> "OpenBLAS 0.3.21" (the first two words) */
static void blas_short(const char *config, char *buf, size_t size) {
  const char *p = config ? config : "BLAS";
  const char *end = strchr(p, ' ');
  if (end) end = strchr(end + 1, ' ');
  size_t n = end ? (size_t)(end - p) : strlen(p);
  if (n >= size) n = size - 1;
  memcpy(buf, p, n);
  buf[n] = '\0';
}

static void print_version(lua_State *L) {
  int threads = 0, own = nn_get_num_threads(lunet_ctx(L));
  const char *core = NULL;
  const char *config = nn_blas_info(&threads, &core);
  printf("Lunet %s (%d thread%s)\n%s\n%s (core %s, %d thread%s)\n", LUNET_VERSION, own,
         own == 1 ? "" : "s", LUA_COPYRIGHT, config ? config : "BLAS (unknown)",
         core ? core : "unknown", threads, threads == 1 ? "" : "s");
  fflush(stdout);
}

static void print_banner(void) {
  int threads = 0;
  const char *core = NULL;
  char blas[64];
  blas_short(nn_blas_info(&threads, &core), blas, sizeof blas);
  printf("Lunet %s (%s, %s %s)\n", LUNET_VERSION, LUA_RELEASE, blas, core ? core : "");
  printf("'lunet' is loaded. help(x) or ?x explains x; Tab completes names and fields; "
         "Ctrl-C stops a computation; Ctrl-D exits.\n");
  fflush(stdout);
}

/* ===================================================================== */
/* Chunks, arguments, libraries                                          */
/* ===================================================================== */

/* arg[0] is the script, its arguments go to 1.., everything before it (the interpreter and
   the options) to negative indices; with no script, arg[0] is the interpreter. */
static void createargtable(lua_State *L, char **argv, int argc, int script) {
  int narg = argc - (script + 1);
  lua_createtable(L, narg > 0 ? narg : 0, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

static int dofile(lua_State *L, const char *name) {
  return dochunk(L, luaL_loadfile(L, name));
}

static int dostring(lua_State *L, const char *s, const char *name) {
  return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l mod: global mod = require "mod";  -l g=mod: global g = require "mod";
   -l mod-v2: global mod = require "mod-v2" (the part before '-', as lua.c's LUA_IGMARK). */
static int dolibrary(lua_State *L, char *globname) {
  int status;
  char *suffix = NULL;
  char *modname = strchr(globname, '=');
  if (modname == NULL) {
    modname = globname;
    suffix = strchr(modname, '-');
  } else {
    *modname = '\0';
    modname++;
  }
  lua_getglobal(L, "require");
  lua_pushstring(L, modname);
  status = docall(L, 1, 1);
  if (status == LUA_OK) {
    if (suffix != NULL) *suffix = '\0';
    lua_setglobal(L, globname);
  }
  return report(L, status);
}

static int pushargs(lua_State *L) {
  int i, n;
  if (lua_getglobal(L, "arg") != LUA_TTABLE) luaL_error(L, "'arg' is not a table");
  n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  lua_remove(L, -i);
  return n;
}

static int handle_script(lua_State *L, char **argv) {
  int status;
  const char *fname = argv[0];
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0) fname = NULL; /* stdin */
  status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    int n = pushargs(L);
    status = docall(L, n, LUA_MULTRET);
  }
  return report(L, status);
}

static int isdir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* package.preload.lunet (the statically linked module, so `require "lunet"` never loads a
   second copy), the Lua modules' directory in front of package.path (the source tree when
   running from the build tree, else the installed one), and package.loaded["lunet.config"]
   that tells lunet.data where the shipped data sets are. */
static void setup_package(lua_State *L) {
  const char *luadir = isdir(LUNET_LUA_BUILD_DIR) ? LUNET_LUA_BUILD_DIR : LUNET_LUA_INSTALL_DIR;
  const char *datadir =
      isdir(LUNET_DATA_BUILD_DIR) ? LUNET_DATA_BUILD_DIR : LUNET_DATA_INSTALL_DIR;
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", luadir, luadir, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 1);
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_lunet);
  lua_setfield(L, -2, "lunet");
  lua_pop(L, 1);
  lua_getfield(L, -1, "loaded");
  lua_createtable(L, 0, 2);
  lua_pushstring(L, datadir);
  lua_setfield(L, -2, "data_dir");
  lua_pushstring(L, luadir);
  lua_setfield(L, -2, "lua_dir");
  lua_setfield(L, -2, "lunet.config");
  lua_pop(L, 2);
}

/* ===================================================================== */
/* Reading lines: libedit on a terminal, plain getline otherwise         */
/* ===================================================================== */

enum { READ_EOF = 0, READ_LINE = 1, READ_INTR = 2 };

static int use_editline = 0;
static int history_saved = 1; /* nothing to save until the REPL opens the editor */
static char histfile[4096];

/* Why `pending`: libedit installs its SIGINT handler and shows the prompt before it calls
   read(); a Ctrl-C in that instant interrupts nothing, and the line typed next comes back
   as if no Ctrl-C had happened. The Ctrl-C still cancels the chunk in progress, and that
   line then starts a fresh chunk instead of being appended to the cancelled one. */
static char *pending = NULL;

static char **complete(const char *text, int start, int end);
static void free_candidates(void);

static void save_history(void) {
  if (history_saved) return;
  history_saved = 1;
  if (histfile[0]) write_history(histfile);
  clear_history();
  free_candidates();
  free(pending);
  pending = NULL;
}

/* Why the word-break set lacks '.' and ':': "io.stdout:wri" must reach the completer whole. */
static char wordbreak[] = " \t\n\"\\'`@$><=;|&{(+-*/%^~#,[)]}";

static void editor_open(int noenv) {
  const char *h = noenv ? NULL : getenv(HISTORY_VAR);
  histfile[0] = '\0';
  if (h && h[0]) {
    if (strlen(h) < sizeof histfile) strcpy(histfile, h);
  } else if ((h = getenv("HOME")) != NULL && h[0]) {
    int n = snprintf(histfile, sizeof histfile, "%s/%s", h, HISTORY_FILE);
    if (n < 0 || (size_t)n >= sizeof histfile) histfile[0] = '\0';
  }
  setlocale(LC_CTYPE, ""); /* multibyte input in the editor */
  rl_readline_name = PROGNAME;
  rl_initialize();
  using_history();
  stifle_history(HISTORY_MAX);
  if (histfile[0]) read_history(histfile);
  rl_attempted_completion_function = complete;
  rl_basic_word_break_characters = wordbreak;
  rl_completer_word_break_characters = wordbreak;
  rl_completion_append_character = '\0';
  history_saved = 0;
  use_editline = 1;
  static int registered = 0;
  if (!registered) registered = atexit(save_history) == 0; /* os.exit() in the REPL */
}

static void saveline(const char *line) {
  if (use_editline && line[0] != '\0') add_history(line);
}

/* Reads one line without its newline into a malloc'ed buffer. */
static int readline_raw(const char *prompt, char **out) {
  *out = NULL;
  got_sigint = 0;
  if (use_editline) {
    if (pending) { /* typed after a Ctrl-C that the editor did not see in time */
      *out = pending;
      pending = NULL;
      return READ_LINE;
    }
    struct sigaction sa, oldsa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigalrm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &oldsa);
    errno = 0;
    in_readline = 1;
    char *b = readline(prompt);
    int err = errno;
    in_readline = 0;
    if (alarm_set) alarm(0);
    alarm_set = 0;
    sigaction(SIGALRM, &oldsa, NULL);
    if (got_sigint || (b == NULL && err == EINTR)) {
      pending = b; /* NULL when the editor stopped on the Ctrl-C itself */
      fputs("\n", stdout);
      fflush(stdout);
      return READ_INTR;
    }
    if (b == NULL) return READ_EOF;
    *out = b;
    return READ_LINE;
  }
  fputs(prompt, stdout);
  fflush(stdout);
  size_t cap = 0;
  char *b = NULL;
  errno = 0;
  ssize_t n = getline(&b, &cap, stdin);
  if (n < 0) {
    int intr = got_sigint || errno == EINTR;
    free(b);
    if (!intr) return READ_EOF;
    clearerr(stdin);
    fputs("\n", stdout);
    fflush(stdout);
    return READ_INTR;
  }
  if (n > 0 && b[n - 1] == '\n') b[n - 1] = '\0';
  *out = b;
  return READ_LINE;
}

/* ===================================================================== */
/* Tab completion                                                        */
/* ===================================================================== */

/* Why protected: the completer runs inside libedit's frames, where a Lua error (out of
   memory) must not longjmp. It never calls Lua code: tables are read with rawget, and the
   fields of a value are found where __index would look without running it (see sources). */
static char **cands = NULL;
static int ncands = 0, nextcand = 0;

static void free_candidates(void) {
  for (int i = nextcand; i < ncands; i++) free(cands[i]);
  free(cands);
  cands = NULL;
  ncands = nextcand = 0;
}

static int isident(const char *s, size_t n) {
  if (n == 0 || !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
    return 0;
  for (size_t i = 1; i < n; i++) {
    char c = s[i];
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
      return 0;
  }
  return 1;
}

#define MAX_SOURCES 64

/* Appends the table on top to the list at index list unless already there (pops it). */
static void addsource(lua_State *L, int list, int *n) {
  for (int i = 1; i <= *n; i++) {
    lua_rawgeti(L, list, i);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 1);
    if (same) {
      lua_pop(L, 1);
      return;
    }
  }
  if (*n < MAX_SOURCES) lua_rawseti(L, list, ++*n);
  else lua_pop(L, 1);
}

/* Adds where __index of the value at v looks: a table, or the tables a function (C or Lua)
   holds as upvalues (how the tensor type keeps its methods, and nn.Module classes theirs). */
static void addindex(lua_State *L, int v, int list, int *n) {
  if (!lua_getmetatable(L, v)) return;
  lua_pushliteral(L, "__index");
  lua_rawget(L, -2);
  if (lua_type(L, -1) == LUA_TTABLE) {
    lua_pushvalue(L, -1);
    addsource(L, list, n);
  } else if (lua_type(L, -1) == LUA_TFUNCTION) {
    for (int u = 1; u <= 255 && lua_getupvalue(L, -1, u) != NULL; u++) {
      if (lua_type(L, -1) == LUA_TTABLE) addsource(L, list, n);
      else lua_pop(L, 1);
    }
  }
  lua_pop(L, 2);
}

/* Pushes a list of the tables whose keys are the fields of the value at idx: the value
   itself if a table, with the tables it keeps under non-string keys (a private field store,
   as nn.Module instances have), then, breadth first, every table the __index chains of
   these lead to. */
static void sources(lua_State *L, int idx) {
  int n = 0;
  idx = lua_absindex(L, idx);
  lua_newtable(L);
  int list = lua_gettop(L);
  if (lua_type(L, idx) == LUA_TTABLE) {
    lua_pushvalue(L, idx);
    addsource(L, list, &n);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      if (lua_type(L, -2) == LUA_TTABLE && lua_type(L, -1) == LUA_TTABLE) {
        lua_pushvalue(L, -1);
        addsource(L, list, &n);
      }
      lua_pop(L, 1);
    }
  }
  addindex(L, idx, list, &n);
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, list, i);
    addindex(L, lua_gettop(L), list, &n);
    lua_pop(L, 1);
  }
  lua_settop(L, list);
}

/* Whether key (a string on top) is listed in the __dir array of the metatable of the value
   at v: names its __index makes on first use (lunet.nn), offered and followed by completion. */
static int indir(lua_State *L, int v) {
  int found = 0, key = lua_gettop(L);
  if (!lua_getmetatable(L, v)) return 0;
  lua_pushliteral(L, "__dir");
  if (lua_rawget(L, -2) == LUA_TTABLE)
    for (lua_Integer i = 1; !found && lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
      found = lua_rawequal(L, -1, key);
      lua_pop(L, 1);
    }
  lua_settop(L, key);
  return found;
}

/* value[key] (value below key on the stack) through sources(); replaces both by it. A name
   the value's __dir lists is fetched with its __index (lunet.nn: loads it), as the table
   its __index keeps may hold a loader under that name rather than the value. */
static int rawlookup(lua_State *L) {
  int key = lua_gettop(L);
  if (lua_type(L, key - 1) == LUA_TTABLE) {
    lua_pushvalue(L, key);
    if (lua_rawget(L, key - 1) != LUA_TNIL) {
      lua_replace(L, key - 1);
      lua_settop(L, key - 1);
      return 1;
    }
    lua_pop(L, 1);
  }
  if (lua_type(L, key) == LUA_TSTRING && indir(L, key - 1)) {
    lua_gettable(L, key - 1);
    lua_replace(L, key - 1);
    return 1;
  }
  sources(L, key - 1);
  for (lua_Integer i = 1; lua_rawgeti(L, key + 1, i) == LUA_TTABLE; i++) {
    lua_pushvalue(L, key);
    if (lua_rawget(L, -2) != LUA_TNIL) {
      lua_replace(L, key - 1);
      lua_settop(L, key - 1);
      return 1;
    }
    lua_pop(L, 2);
  }
  lua_settop(L, key - 2);
  return 0;
}

/* Adds prefix..k to the set at index set for each identifier k among the fields of the
   value on top (popped) that starts with part; only functions when methods is set.
   Metamethods (__add…) show only when part itself starts with "__". */
static void addfields(lua_State *L, int set, const char *prefix, const char *part, int methods) {
  size_t plen = strlen(part);
  int hidden = strncmp(part, "__", 2) != 0;
  sources(L, -1);
  for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TTABLE; i++) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      size_t klen;
      const char *k;
      if (lua_type(L, -2) == LUA_TSTRING && (k = lua_tolstring(L, -2, &klen)) &&
          isident(k, klen) && strncmp(k, part, plen) == 0 &&
          !(hidden && strncmp(k, "__", 2) == 0) &&
          (!methods || lua_type(L, -1) == LUA_TFUNCTION)) {
        lua_pushfstring(L, "%s%s", prefix, k);
        lua_pushboolean(L, 1);
        lua_rawset(L, set);
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 2); /* nil, the list */
  int value = lua_gettop(L);
  if (!methods && lua_getmetatable(L, value)) {
    lua_pushliteral(L, "__dir");
    if (lua_rawget(L, -2) == LUA_TTABLE)
      for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
        size_t klen;
        const char *k = lua_tolstring(L, -1, &klen);
        if (isident(k, klen) && strncmp(k, part, plen) == 0) {
          lua_pushfstring(L, "%s%s", prefix, k);
          lua_pushboolean(L, 1);
          lua_rawset(L, set);
        }
        lua_pop(L, 1);
      }
  }
  lua_settop(L, value - 1); /* the value too */
}

static const char *const keywords[] = {
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
    "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
    NULL};

/* candidates(text) -> array of completions of text: a global name or keyword, or the
   fields of a.b.c after "a.b.c." (methods after "a.b.c:"). A path the tables do not reach
   may name a module already loaded (lunet.nn once used): package.loaded["a.b"]. */
static int l_candidates(lua_State *L) {
  const char *text = lua_touserdata(L, 1);
  const char *sep = NULL;
  for (const char *p = text; *p; p++)
    if (*p == '.' || *p == ':') sep = p;
  lua_settop(L, 0);
  lua_newtable(L); /* 1: the set */
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  if (sep == NULL) {
    size_t n = strlen(text);
    for (int i = 0; keywords[i]; i++)
      if (strncmp(keywords[i], text, n) == 0) {
        lua_pushboolean(L, 1);
        lua_setfield(L, 1, keywords[i]);
      }
    addfields(L, 1, "", text, 0);
  } else {
    const char *p = text;
    int ok = 1;
    while (ok && p < sep) {
      const char *q = p;
      while (q < sep && *q != '.') q++;
      if (!isident(p, (size_t)(q - p))) ok = 0; /* also rejects a ':' before sep */
      else {
        lua_pushlstring(L, p, (size_t)(q - p));
        if (!(ok = rawlookup(L))) {
          lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
          lua_pushlstring(L, text, (size_t)(q - text));
          ok = lua_rawget(L, -2) != LUA_TNIL;
          lua_remove(L, -2);
          if (!ok) lua_pop(L, 1);
        }
      }
      p = q + 1;
    }
    if (ok) {
      lua_pushlstring(L, text, (size_t)(sep - text) + 1);
      lua_insert(L, -2);
      addfields(L, 1, lua_tostring(L, -2), sep + 1, *sep == ':');
    }
  }
  lua_settop(L, 1);
  lua_newtable(L);
  lua_Integer n = 0;
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, 2, ++n);
  }
  return 1;
}

static char *candidate(const char *text, int state) {
  (void)text;
  if (state == 0) nextcand = 0;
  if (nextcand < ncands) return cands[nextcand++]; /* ownership goes to libedit */
  free_candidates();
  return NULL;
}

static char **complete(const char *text, int start, int end) {
  lua_State *L = globalL;
  (void)start;
  (void)end;
  rl_attempted_completion_over = 1; /* no file-name completion */
  free_candidates();
  if (L == NULL || !lua_checkstack(L, 8)) return NULL;
  int top = lua_gettop(L);
  lua_pushcfunction(L, l_candidates);
  lua_pushlightuserdata(L, (void *)text);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    cands = n > 0 ? malloc((size_t)n * sizeof *cands) : NULL;
    for (lua_Integer i = 1; cands && i <= n; i++) {
      lua_rawgeti(L, -1, i);
      const char *s = lua_tostring(L, -1);
      char *c = s ? malloc(strlen(s) + 1) : NULL;
      lua_pop(L, 1);
      if (c == NULL) break;
      strcpy(c, s);
      cands[ncands++] = c;
    }
  }
  lua_settop(L, top);
  if (ncands == 0) {
    free_candidates();
    return NULL;
  }
  return rl_completion_matches(text, candidate);
}

/* ===================================================================== */
/* The REPL                                                              */
/* ===================================================================== */

static const char *get_prompt(lua_State *L, int firstline) {
  const char *p;
  lua_getglobal(L, firstline ? "_PROMPT" : "_PROMPT2");
  p = lua_tostring(L, -1);
  if (p == NULL) p = firstline ? PROMPT : PROMPT2;
  return p; /* the value stays on the stack while the prompt is in use */
}

static int incomplete(lua_State *L, int status) {
  if (status == LUA_ERRSYNTAX) {
    size_t lmsg;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    size_t marklen = sizeof(EOFMARK) - 1;
    if (lmsg >= marklen && strcmp(msg + lmsg - marklen, EOFMARK) == 0) {
      lua_pop(L, 1);
      return 1;
    }
  }
  return 0;
}

/* "?name" -> the chunk require("lunet.help").help("name"), the name in a long string whose
   level no "]=...=]" in it can close. */
static void pushhelp(lua_State *L, const char *name) {
  while (*name == ' ' || *name == '\t') name++;
  size_t len = strlen(name);
  while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t')) len--;
  int level = 0;
  char close[40];
  for (;; level++) {
    close[0] = ']';
    memset(close + 1, '=', (size_t)level);
    close[level + 1] = ']';
    close[level + 2] = '\0';
    if (level > 30 || !strstr(name, close)) break;
  }
  close[0] = '[';
  close[level + 1] = '[';
  lua_pushfstring(L, "require('lunet.help').help(%s", close);
  lua_pushlstring(L, name, len);
  close[0] = close[level + 1] = ']';
  lua_pushfstring(L, "%s)", close);
  lua_concat(L, 3);
}

/* Prompts, reads a line and pushes it; READ_LINE, READ_EOF or READ_INTR. */
static int pushline(lua_State *L, int firstline) {
  char *b;
  const char *prmt = get_prompt(L, firstline);
  int r = readline_raw(prmt, &b);
  lua_pop(L, 1); /* prompt */
  if (r != READ_LINE) return r;
  if (firstline && b[0] == '=') lua_pushfstring(L, "return %s", b + 1); /* 5.2 style */
  else if (firstline && b[0] == '?') pushhelp(L, b + 1);
  else lua_pushstring(L, b);
  free(b);
  return READ_LINE;
}

static int addreturn(lua_State *L) {
  const char *line = lua_tostring(L, -1);
  const char *retline = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
  if (status == LUA_OK) {
    lua_remove(L, -2);
    saveline(line);
  } else
    lua_pop(L, 2);
  return status;
}

#define NO_INPUT (-1)
#define CANCELLED (-2)

/* Reads continuation lines until the chunk compiles or fails for a reason other than
   ending too early; Ctrl-C drops the whole chunk. */
static int multiline(lua_State *L) {
  for (;;) {
    size_t len;
    const char *line = lua_tolstring(L, 1, &len);
    int status = luaL_loadbuffer(L, line, len, "=stdin");
    if (!incomplete(L, status)) {
      saveline(line);
      return status;
    }
    int r = pushline(L, 0);
    if (r == READ_INTR) return CANCELLED;
    if (r == READ_EOF) { /* compile once more for the real "unexpected <eof>" message */
      saveline(line);
      return luaL_loadbuffer(L, line, len, "=stdin");
    }
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
}

static int loadline(lua_State *L) {
  int status;
  lua_settop(L, 0);
  int r = pushline(L, 1);
  if (r == READ_EOF) return NO_INPUT;
  if (r == READ_INTR) return CANCELLED;
  if ((status = addreturn(L)) != LUA_OK) status = multiline(L);
  if (status == CANCELLED) {
    lua_settop(L, 0);
    return CANCELLED;
  }
  lua_remove(L, 1);
  return status;
}

/* Prints the results through lunet.help's print_values (tables nested and indented, tensors
   in them by dtype and shape), or the global print when lunet.help is not loaded. */
static void l_print(lua_State *L) {
  int n = lua_gettop(L);
  if (n > 0) {
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "lunet.help") == LUA_TTABLE &&
        lua_getfield(L, -1, "print_values") == LUA_TFUNCTION) {
      lua_replace(L, -3);
      lua_pop(L, 1);
    } else {
      lua_pop(L, 3);
      lua_getglobal(L, "print");
    }
    lua_insert(L, 1);
    if (docall(L, n, 0) != LUA_OK)
      l_message(progname,
                lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1)));
  }
}

/* The globals of the REPL and of -e: lunet = require "lunet" and help = the help function
   of lunet.help, unless the user already has globals of those names. 0 if lunet fails to
   load; a missing lunet.help (modules not installed) only leaves help out. */
static int preload_global(lua_State *L) {
  if (lua_getglobal(L, "lunet") == LUA_TNIL) {
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lunet");
    if (report(L, docall(L, 1, 1)) != LUA_OK) {
      lua_pop(L, 1);
      return 0;
    }
    lua_setglobal(L, "lunet");
  }
  lua_pop(L, 1);
  if (lua_getglobal(L, "help") == LUA_TNIL) {
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lunet.help");
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TTABLE) {
      lua_getfield(L, -1, "help");
      lua_setglobal(L, "help");
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return 1;
}

static void doREPL(lua_State *L, int noenv) {
  int status;
  const char *oldprogname = progname;
  progname = NULL;
  globalL = L;
  preload_global(L);
  if (isatty(STDIN_FILENO)) editor_open(noenv);
  in_repl = 1;
  while ((status = loadline(L)) != NO_INPUT) {
    if (status == CANCELLED) continue;
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) l_print(L);
    else report(L, status);
  }
  in_repl = 0;
  lua_settop(L, 0);
  lua_writeline();
  save_history();
  use_editline = 0;
  progname = oldprogname;
}

/* ===================================================================== */
/* Options and main                                                      */
/* ===================================================================== */

#define has_error 1 /* bad option */
#define has_i 2     /* -i */
#define has_v 4     /* -v */
#define has_e 8     /* -e */
#define has_E 16    /* -E */
#define has_h 32    /* -h, --help */

static const char usage[] =
    "usage: " PROGNAME " [options] [script [args]]\n"
    "Available options are:\n"
    "  -e stat   execute string 'stat' (the global 'lunet' is loaded, as in the REPL)\n"
    "  -i        enter interactive mode after executing 'script'\n"
    "  -l mod    require library 'mod' into global 'mod'\n"
    "  -l g=mod  require library 'mod' into global 'g'\n"
    "  -v        show version information (Lunet, Lua, OpenBLAS)\n"
    "  -E        ignore environment variables\n"
    "  -W        turn warnings on\n"
    "  -h        show this help (also --help)\n"
    "  --        stop handling options\n"
    "  -         stop handling options and execute stdin\n";

static void print_usage(const char *badoption) {
  lua_writestringerror("%s: ", PROGNAME);
  if (badoption[1] == 'e' || badoption[1] == 'l')
    lua_writestringerror("'%s' needs argument\n", badoption);
  else
    lua_writestringerror("unrecognized option '%s'\n", badoption);
  lua_writestringerror("%s", usage);
}

static void print_help(void) {
  printf("Lunet %s: neural networks in Lua 5.4 on a C core\n%s", LUNET_VERSION, usage);
  printf("\nWith no script and stdin a terminal, " PROGNAME " starts the REPL: 'lunet' is a global,\n"
         "help(x) or ?x explains a function, layer or module, Tab completes names and fields.\n"
         "Environment: LUNET_INIT (code or @file run first), LUNET_HISTORY (the REPL's history\n"
         "file, default ~/" HISTORY_FILE "), LUNET_QUIET=1 (no warnings about BLAS kernels).\n");
  fflush(stdout);
}

/* Returns the option mask; *first is the script's index (0: none) or the bad option's. */
static int collectargs(char **argv, int *first) {
  int args = 0;
  int i;
  if (argv[0] == NULL) {
    *first = -1;
    return 0;
  }
  for (i = 1; argv[i] != NULL; i++) {
    *first = i;
    if (argv[i][0] != '-') return args;
    switch (argv[i][1]) {
    case '-':
      if (strcmp(argv[i], "--help") == 0) {
        args |= has_h;
        break;
      }
      if (argv[i][2] != '\0') return has_error;
      *first = i + 1;
      return args;
    case '\0':
      return args; /* script "name" is '-' */
    case 'E':
      if (argv[i][2] != '\0') return has_error;
      args |= has_E;
      break;
    case 'W':
      if (argv[i][2] != '\0') return has_error;
      break;
    case 'h':
      if (argv[i][2] != '\0') return has_error;
      args |= has_h;
      break;
    case 'i':
      args |= has_i; /* FALLTHROUGH */
    case 'v':
      if (argv[i][2] != '\0') return has_error;
      args |= (argv[i][1] == 'v') ? has_v : 0;
      break;
    case 'e':
      args |= has_e; /* FALLTHROUGH */
    case 'l':
      if (argv[i][2] == '\0') {
        i++;
        if (argv[i] == NULL || argv[i][0] == '-') return has_error;
      }
      break;
    default:
      return has_error;
    }
  }
  *first = 0;
  return args;
}

/* Runs -e, -l and -W in order; 0 if some code raised an error. */
static int runargs(lua_State *L, char **argv, int n) {
  for (int i = 1; i < n; i++) {
    int option = argv[i][1];
    switch (option) {
    case 'e':
    case 'l': {
      int status;
      char *extra = argv[i] + 2;
      if (*extra == '\0') extra = argv[++i];
      status = option == 'e' ? dostring(L, extra, "=(command line)") : dolibrary(L, extra);
      if (status != LUA_OK) return 0;
      break;
    }
    case 'W':
      lua_warning(L, "@on", 0);
      break;
    }
  }
  return 1;
}

static int handle_init(lua_State *L) {
  const char *init = getenv(INIT_VAR);
  if (init == NULL) return LUA_OK;
  if (init[0] == '@') return dofile(L, init + 1);
  return dostring(L, init, "=" INIT_VAR);
}

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int script;
  int args = collectargs(argv, &script);
  int optlim = (script > 0) ? script : argc;
  luaL_checkversion(L);
  if (args == has_error) {
    print_usage(argv[script]);
    return 0;
  }
  if (args & has_h) {
    print_help();
    lua_pushboolean(L, 1);
    return 1;
  }
  if (args & has_v) print_version(L);
  if (args & has_E) { /* tells package to ignore LUA_PATH and friends */
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  setup_package(L);
  createargtable(L, argv, argc, script);
  globalL = L;
  globalctx = lunet_ctx(L);
  lua_gc(L, LUA_GCRESTART);
  /* incremental, not lua.c's generational mode: tensors hold memory the collector only
     hears about through lunet_gcstep, and minor collections never free the ones that
     survived one (a training step's activations), so generational mode lets them pile up */
  lua_gc(L, LUA_GCINC, 0, 0, 0);
  if (!(args & has_E) && handle_init(L) != LUA_OK) return 0;
  if ((args & has_e) && !preload_global(L)) return 0;
  if (!runargs(L, argv, optlim)) return 0;
  if (script > 0 && handle_script(L, argv + script) != LUA_OK) return 0;
  if (args & has_i) {
    if (isatty(STDIN_FILENO)) print_banner();
    doREPL(L, args & has_E);
  } else if (script < 1 && !(args & (has_e | has_v))) {
    if (isatty(STDIN_FILENO)) {
      print_banner();
      doREPL(L, args & has_E);
    } else if (dofile(L, NULL) != LUA_OK) /* stdin is a pipe or a file: run it */
      return 0; /* (lua.c exits 0 here; a failed script should not) */
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* OpenBLAS's pthreads build starts its worker threads with the process, and they spin for
   about 0.1 s waiting for work that Lunet never gives them (it calls OpenBLAS with one thread
   and runs its own workers). The runner owns its process, so it sets OpenBLAS to one thread
   and stops them before any script runs, so they do not spin beside Lunet's workers, which
   start with the first job that splits (runtime/pool.c). A later openblas_set_num_threads(n)
   starts them again. Weak
   symbols: with another BLAS, or a build without them, nothing happens. */
extern int openblas_get_parallel(void) __attribute__((weak));
extern void openblas_set_num_threads(int) __attribute__((weak));
extern int blas_thread_shutdown_(void) __attribute__((weak));

static void quiet_openblas(void) {
  if (openblas_get_parallel && openblas_set_num_threads && blas_thread_shutdown_ &&
      openblas_get_parallel() == 1) {
    openblas_set_num_threads(1);
    blas_thread_shutdown_();
  }
}

int main(int argc, char **argv) {
  int status, result;
  quiet_openblas();
  static LuaHeap heap;
  lua_State *L = newstate(&heap);
  if (L == NULL) {
    l_message(PROGNAME, "cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  main_thread = pthread_self();
  setsigint(1);
  lua_gc(L, LUA_GCSTOP);
  lua_pushcfunction(L, &pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 0);
  result = lua_toboolean(L, -1);
  report(L, status);
  setsigint(0);
  globalctx = NULL;
  globalL = NULL;
  lua_close(L);
  heap_clear(&heap);
  return (result && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}
