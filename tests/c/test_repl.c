/*
** test_repl.c — drives the `lunet` REPL through a pseudo-terminal, as a user would.
**   test_repl <path to lunet> [source dir]
** Every wait is bounded (poll, at most 10 s); an alarm bounds the whole test.
*/
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int passed = 0, failed = 0;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (cond) passed++;                                                      \
    else {                                                                   \
      failed++;                                                              \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
      dump_tail();                                                           \
    }                                                                        \
  } while (0)

#define WAIT_MS 10000

/* ---- the child and its output ---------------------------------------- */

static pid_t child = -1;
static int master = -1;
static char out[1 << 16]; /* everything read since the session started (the tail) */
static size_t outlen = 0, mark = 0; /* mark: where the next expect starts looking */
static int child_gone = 0;

static void dump_tail(void) {
  size_t from = outlen > 600 ? outlen - 600 : 0;
  fprintf(stderr, "---- last output (mark at %zu of %zu) ----\n", mark, outlen);
  for (size_t i = from; i < outlen; i++) {
    unsigned char c = (unsigned char)out[i];
    if (c == '\n' || (c >= 32 && c < 127)) fputc(c, stderr);
    else if (c != '\r') fprintf(stderr, "\\x%02x", c);
  }
  fprintf(stderr, "\n----\n");
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Reads what is available within ms milliseconds; 0 once the child closed the terminal. */
static int pump(int ms) {
  struct pollfd p = {master, POLLIN, 0};
  int r = poll(&p, 1, ms);
  if (r <= 0) return 1;
  if (outlen == sizeof out) { /* keep the newer half */
    size_t half = sizeof out / 2;
    memmove(out, out + half, half);
    outlen -= half;
    mark = mark > half ? mark - half : 0;
  }
  ssize_t n = read(master, out + outlen, sizeof out - outlen);
  if (n <= 0) {
    if (n < 0 && errno == EINTR) return 1;
    child_gone = 1;
    return 0;
  }
  outlen += (size_t)n;
  return 1;
}

static const char *find(const char *needle) {
  size_t nl = strlen(needle);
  for (size_t i = mark; i + nl <= outlen; i++)
    if (memcmp(out + i, needle, nl) == 0) return out + i;
  return NULL;
}

/* Waits until needle appears after the mark; moves the mark past it. */
static int expect(const char *needle) {
  long deadline = now_ms() + WAIT_MS;
  for (;;) {
    const char *p = find(needle);
    if (p) {
      mark = (size_t)(p - out) + strlen(needle);
      return 1;
    }
    long left = deadline - now_ms();
    if (left <= 0 || child_gone) return 0;
    if (!pump((int)(left < 100 ? left : 100)) && !find(needle)) return 0;
  }
}

static void drain(int ms) {
  long deadline = now_ms() + ms;
  while (now_ms() < deadline && !child_gone) pump(20);
}

static void send(const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(master, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

/* A control key, typed as a person would: a moment after the prompt shows. libedit prints
   the prompt before it puts the terminal in raw mode; a ^D typed in that instant is
   swallowed by the terminal's line discipline. */
static void sendkey(const char *s) {
  drain(250);
  send(s);
}

static void sendline(const char *s) {
  send(s);
  send("\r");
}

static char tmpdir[] = "/tmp/test_repl.XXXXXX";
static char histpath[512];

static int start(const char *lunet) {
  struct winsize ws = {24, 100, 0, 0};
  outlen = mark = 0;
  child_gone = 0;
  child = forkpty(&master, NULL, NULL, &ws);
  if (child < 0) {
    perror("forkpty");
    return 0;
  }
  if (child == 0) {
    setenv("HOME", tmpdir, 1);
    setenv("LUNET_HISTORY", histpath, 1);
    setenv("TERM", "xterm", 1);
    unsetenv("LUNET_INIT");
    unsetenv("LUA_INIT");
    unsetenv("LUA_INIT_5_4");
    execl(lunet, "lunet", (char *)NULL);
    perror("exec lunet");
    _exit(127);
  }
  return 1;
}

/* Ctrl-D at an empty prompt; returns the exit status (-1 if it did not exit in time). */
static int finish(void) {
  int status = 0;
  sendkey("\x04");
  long deadline = now_ms() + WAIT_MS;
  for (;;) {
    pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child) break;
    if (now_ms() > deadline) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      close(master);
      child = -1;
      return -1;
    }
    pump(50);
  }
  while (!child_gone && pump(0) && now_ms() < deadline) {}
  close(master);
  child = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void on_alarm(int sig) {
  (void)sig;
  if (child > 0) kill(child, SIGKILL);
  static const char msg[] = "test_repl: timed out\n";
  (void)!write(2, msg, sizeof msg - 1);
  _exit(2);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *b = calloc(1, 1 << 16);
  if (b) (void)!fread(b, 1, (1 << 16) - 1, f);
  fclose(f);
  return b;
}

/* ---- the sessions ----------------------------------------------------- */

static void session_one(const char *lunet) {
  CHECK(start(lunet));
  CHECK(expect("Lunet "));
  CHECK(expect("OpenBLAS"));
  CHECK(expect("> "));

  /* an expression prints its value */
  sendline("1+2");
  CHECK(expect("3\r\n"));
  CHECK(expect("> "));

  /* several values, tab-separated as lua.c does */
  sendline("10, 'ab', nil");
  CHECK(expect("10\tab\tnil\r\n"));
  CHECK(expect("> "));

  /* multi-line input gets the continuation prompt */
  sendline("function f(x)");
  CHECK(expect(">> "));
  sendline("return x*2");
  CHECK(expect(">> "));
  sendline("end");
  CHECK(expect("> "));
  sendline("f(21)");
  CHECK(expect("42\r\n"));
  CHECK(expect("> "));

  /* statements and globals */
  sendline("x = 5");
  CHECK(expect("> "));
  sendline("x");
  CHECK(expect("5\r\n"));
  CHECK(expect("> "));

  /* an error is reported with a traceback and the REPL carries on */
  sendline("error(\"boom\")");
  CHECK(expect("boom"));
  CHECK(expect("traceback"));
  CHECK(expect("> "));
  sendline("10+1");
  CHECK(expect("11\r\n"));
  CHECK(expect("> "));

  /* a syntax error too */
  sendline("1 +* 2");
  CHECK(expect("unexpected symbol"));
  CHECK(expect("> "));

  /* Ctrl-C stops a running loop and returns to the prompt */
  sendline("while true do end");
  CHECK(expect("end\r\n")); /* the line was taken */
  sendkey("\x03");
  CHECK(expect("interrupted"));
  CHECK(expect("> "));
  sendline("6*7");
  CHECK(expect("42\r\n"));
  CHECK(expect("> "));

  /* Ctrl-C clears a half-typed line */
  send("12345");
  sendkey("\x03");
  CHECK(expect("> "));
  sendline("7*7");
  CHECK(expect("49\r\n"));
  CHECK(expect("> "));

  /* Ctrl-C drops a half-typed chunk */
  sendline("function g()");
  CHECK(expect(">> "));
  sendkey("\x03");
  CHECK(expect("> "));
  sendline("5+5");
  CHECK(expect("10\r\n"));
  CHECK(expect("> "));

  /* tab completion: a global, a table field, a userdata method */
  sendline("zz_unique_name = 99");
  CHECK(expect("> "));
  send("zz_uniq\t");
  drain(200);
  sendline("");
  CHECK(expect("99\r\n"));
  CHECK(expect("> "));
  send("string.upp\t");
  drain(200);
  sendline("('ab')");
  CHECK(expect("AB\r\n"));
  CHECK(expect("> "));
  send("io.stdout:wri\t");
  drain(200);
  sendline("('hey' .. 'you', '\\n') and 1");
  CHECK(expect("heyyou\r\n"));
  CHECK(expect("> "));

  /* lunet is a preloaded global, and tensors print through __tostring */
  sendline("type(lunet)");
  CHECK(expect("table\r\n"));
  CHECK(expect("> "));
  sendline("lunet.ones(2,2)");
  CHECK(expect("tensor("));
  CHECK(expect("> "));
  /* completion of a tensor's methods (kept behind its __index function) */
  sendline("tt = lunet.ones(2, 3)");
  CHECK(expect("> "));
  send("tt:nume\t");
  drain(200);
  sendline("() + 100");
  CHECK(expect("106\r\n"));
  CHECK(expect("> "));

  /* the last chunk, recalled in the next session */
  sendline("100+23");
  CHECK(expect("123\r\n"));
  CHECK(expect("> "));

  CHECK(finish() == 0);
}

static void check_history(void) {
  char *h = slurp(histpath);
  CHECK(h != NULL);
  if (!h) return;
  CHECK(strstr(h, "1+2") != NULL);
  CHECK(strstr(h, "100+23") != NULL);
  CHECK(strstr(h, "zz_unique_name") != NULL);
  /* only complete chunks: no line holds just the end of the function */
  int lone_end = 0;
  for (char *line = strtok(h, "\n"); line; line = strtok(NULL, "\n"))
    if (strcmp(line, "end") == 0 || strncmp(line, "return", 6) == 0) lone_end = 1;
  CHECK(!lone_end);
  free(h);
}

static void session_two(const char *lunet) {
  CHECK(start(lunet));
  CHECK(expect("> "));
  sendkey("\x10"); /* Ctrl-P: the previous history entry */
  drain(200);
  sendline("");
  CHECK(expect("123\r\n"));
  CHECK(expect("> "));
  /* os.exit from the REPL still writes the history */
  sendline("os.exit(3)");
  long deadline = now_ms() + WAIT_MS;
  int status = 0;
  pid_t r;
  while ((r = waitpid(child, &status, WNOHANG)) == 0 && now_ms() < deadline) pump(50);
  if (r == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
  }
  close(master);
  child = -1;
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
  char *h = slurp(histpath);
  CHECK(h && strstr(h, "os.exit(3)") != NULL);
  free(h);
}

/* help, ?x, readable tables and completion of lazy submodules and of module instances */
static void session_three(const char *lunet) {
  CHECK(start(lunet));
  CHECK(expect("help(x) or ?x"));
  CHECK(expect("> "));

  /* lunet.<Tab> offers the lazy names before they are loaded; lunet.nn.<Tab> loads nn */
  sendline("package.loaded['lunet.nn'] == nil");
  CHECK(expect("true\r\n"));
  CHECK(expect("> "));
  send("lunet.nn.Sequ\t");
  drain(300);
  sendline(" ~= nil");
  CHECK(expect("true\r\n")); /* lunet.nn.Sequ ~= nil would be false */
  CHECK(expect("> "));
  send("lunet.MLPC\t");
  drain(300);
  sendline(" ~= nil");
  CHECK(expect("true\r\n"));
  CHECK(expect("> "));

  /* an nn.Module instance: its methods (from its class and the base class) and fields */
  sendline("seq = lunet.nn.Sequential(lunet.nn.Linear(2, 3))");
  CHECK(expect("> "));
  send("seq:num_param\t");
  drain(300);
  sendline("() + 1000");
  CHECK(expect("1009\r\n"));
  CHECK(expect("> "));
  send("seq.traini\t");
  drain(300);
  sendline("");
  CHECK(expect("true\r\n"));
  CHECK(expect("> "));
  /* a C layer's methods */
  sendline("lin = lunet.nn.Linear(4, 5)");
  CHECK(expect("> "));
  send("lin:num_param\t");
  drain(300);
  sendline("()");
  CHECK(expect("25\r\n"));
  CHECK(expect("> "));

  /* an estimator's methods (its class, behind a metatable chain) */
  sendline("clf = lunet.MLPClassifier{}");
  CHECK(expect("> "));
  send("clf.predict_pro\t");
  drain(300);
  sendline(" ~= nil");
  CHECK(expect("true\r\n"));
  CHECK(expect("> "));

  /* ?x and help(x): signature and description from docs/API.md */
  sendline("?lunet.zeros");
  CHECK(expect("lunet.zeros(...)"));
  CHECK(expect("docs/API.md: Tensors"));
  CHECK(expect("> "));
  sendline("help(lunet.nn.Linear)");
  CHECK(expect("Linear(in, out"));
  CHECK(expect("out\xc3\x97in")); /* "weight is out×in" */
  CHECK(expect("> "));
  sendline("?seq:zero_grad");
  CHECK(expect("m:zero_grad()"));
  CHECK(expect("> "));
  sendline("help(lunet.ones(2, 3))");
  CHECK(expect("Tensor float32 [2, 3]"));
  CHECK(expect("methods: "));
  CHECK(expect("> "));

  /* tables print nested and readably, tensors in them by dtype and shape */
  sendline("{a = 1, b = {x = lunet.zeros(2, 3), s = 'hi'}, 10, 20}");
  CHECK(expect("{10, 20, a = 1, b = {s = \"hi\", x = tensor float32 [2, 3]}}\r\n"));
  CHECK(expect("> "));
  sendline("cyc = {}; cyc.self = cyc");
  CHECK(expect("> "));
  sendline("cyc");
  CHECK(expect("{self = <cycle>}\r\n"));
  CHECK(expect("> "));
  /* a tensor alone still prints in full */
  sendline("lunet.ones(2)");
  CHECK(expect("tensor([1., 1.])"));
  CHECK(expect("> "));

  CHECK(finish() == 0);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_repl <lunet binary> [source dir]\n");
    return 2;
  }
  signal(SIGALRM, on_alarm);
  alarm(120);
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 2;
  }
  snprintf(histpath, sizeof histpath, "%s/history", tmpdir);

  session_one(argv[1]);
  check_history();
  session_two(argv[1]);
  session_three(argv[1]);

  unlink(histpath);
  char other[600];
  snprintf(other, sizeof other, "%s/.lunet_history", tmpdir);
  unlink(other);
  rmdir(tmpdir);
  printf("test_repl: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
