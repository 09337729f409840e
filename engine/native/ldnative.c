// Native CPU kernels for the wasm backend: the matrix products through the system's BLAS
// (OpenBLAS: AVX2/AVX-512 with FMA and all cores, where wasm has 128-bit SIMD without FMA on one
// thread). The tensors stay on tfjs-wasm's heap: JS passes Float32Array views of it and this code
// works on them in place. BLAS is opened with dlopen at first use, so the addon loads (and says
// why not) on machines without it. Built by scripts/build-native.mjs with plain gcc and Node-API
// headers; no node-gyp, no link-time dependency.
#define NAPI_VERSION 8
#include <node_api.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
typedef void (*sgemm_fn)(int order, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc);
typedef int (*get_threads_fn)(void);
typedef void (*set_threads_fn)(int);
typedef char *(*get_config_fn)(void);

static sgemm_fn sgemm;
static get_threads_fn get_threads;
static set_threads_fn set_threads;
static get_config_fn get_config;
static char blas_name[512];

#define MAX_THREADS 8
static int n_threads = 1;    // the fork-joins' threads: the cores (open), or ldTables's count
static int last_threads = 0; // threads of the last fork-join (lastThreads(), for the tests)
static int tables_set;       // ldTables was called
static char blas_error[512];

static int open_blas(const char *path) {
  if (sgemm) return 1;
  // OpenBLAS first (multithreaded), then BLIS, macOS's Accelerate, and the reference BLAS (slow)
  const char *candidates[] = {path, "libopenblas.so.0", "libopenblas.so", "libopenblas.dylib", "libblis.so.4",
                              "/System/Library/Frameworks/Accelerate.framework/Accelerate", "libblas.so.3", NULL};
  for (int i = path ? 0 : 1; candidates[i]; i++) {
    void *h = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      snprintf(blas_error, sizeof blas_error, "%s", dlerror());
      continue;
    }
    sgemm_fn f = (sgemm_fn)dlsym(h, "cblas_sgemm");
    if (!f) {
      snprintf(blas_error, sizeof blas_error, "%s has no cblas_sgemm", candidates[i]);
      dlclose(h);
      continue;
    }
    sgemm = f;
    get_threads = (get_threads_fn)dlsym(h, "openblas_get_num_threads");
    set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
    get_config = (get_config_fn)dlsym(h, "openblas_get_config");
    snprintf(blas_name, sizeof blas_name, "%s", candidates[i]);
    return 1;
  }
  return 0;
}

#define CHECK(call)                                                                  \
  do {                                                                               \
    if ((call) != napi_ok) {                                                         \
      napi_throw_error(env, NULL, "ldnative: bad arguments");        \
      return NULL;                                                                   \
    }                                                                                \
  } while (0)

static float *f32(napi_env env, napi_value v, size_t *len) {
  napi_typedarray_type type;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, len, &data, NULL, NULL) != napi_ok || type != napi_float32_array) return NULL;
  return (float *)data;
}

// open(path?: string) -> { ok, name, threads, config, error }
static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out, v;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[1024] = {0};
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t == napi_string) napi_get_value_string_utf8(env, argv[0], path, sizeof path, NULL);
  int ok = open_blas(path[0] ? path : NULL);
  if (!tables_set) { // threads until ldTables says otherwise: the online cores
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    n_threads = cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : (int)cores;
  }
  CHECK(napi_create_object(env, &out));
  napi_get_boolean(env, ok, &v);
  napi_set_named_property(env, out, "ok", v);
  napi_create_string_utf8(env, ok ? blas_name : "", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, out, "name", v);
  napi_create_int32(env, ok && get_threads ? get_threads() : 1, &v);
  napi_set_named_property(env, out, "threads", v);
  napi_create_string_utf8(env, ok && get_config ? get_config() : "", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, out, "config", v);
  napi_create_string_utf8(env, ok ? "" : blas_error, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, out, "error", v);
  return out;
}

static int get_ints(napi_env env, napi_value *argv, int32_t *out, int n) {
  for (int i = 0; i < n; i++)
    if (napi_get_value_int32(env, argv[i], &out[i]) != napi_ok) return 0;
  return 1;
}

// Floats spanned by `rows` rows of `cols` floats `ld` apart (0 when empty).
static size_t extent(int rows, int cols, int ld) { return rows && cols ? (size_t)(rows - 1) * ld + cols : 0; }

typedef struct {
  const float *a, *b;
  float *c;
  int M, N, K, ta, tb, lda, ldb, ldc, n1, n2, sa1, sa2, sb1, sb2, sc1, sc2;
} GemmArgs;
static void gemm_batch(const GemmArgs *g); // below, with the threads

// gemm(a, b, c, M, N, K, transA, transB, lda, ldb, ldc, n1, n2, sa1, sa2, sb1, sb2, sc1, sc2):
// for i < n1, j < n2: C_ij (M×N, row stride ldc) = op(A_ij)·op(B_ij), where X_ij starts at
// i·sx1 + j·sx2 floats of its array (0: shared). Strides let attention read its heads straight out
// of the (B, T, 3C) qkv and write (B, T, C): no split, no transposes.
static napi_value Gemm(napi_env env, napi_callback_info info) {
  size_t argc = 19;
  napi_value argv[19];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 19 || !sgemm) {
    napi_throw_error(env, NULL, sgemm ? "ldnative.gemm: 19 arguments" : "ldnative.gemm: no BLAS (call open first)");
    return NULL;
  }
  size_t la, lb, lc;
  float *a = f32(env, argv[0], &la), *b = f32(env, argv[1], &lb), *c = f32(env, argv[2], &lc);
  int32_t v[16];
  bool ta, tb;
  if (!get_ints(env, argv + 3, v, 3) || napi_get_value_bool(env, argv[6], &ta) != napi_ok ||
      napi_get_value_bool(env, argv[7], &tb) != napi_ok || !get_ints(env, argv + 8, v + 3, 11)) {
    napi_throw_type_error(env, NULL, "ldnative.gemm: integer sizes and boolean transposes expected");
    return NULL;
  }
  int M = v[0], N = v[1], K = v[2], lda = v[3], ldb = v[4], ldc = v[5], n1 = v[6], n2 = v[7];
  int sa1 = v[8], sa2 = v[9], sb1 = v[10], sb2 = v[11], sc1 = v[12], sc2 = v[13];
  int bad = !a || !b || !c;
  for (int i = 0; i < 14; i++) bad |= v[i] < 0;
  if (!bad && n1 > 0 && n2 > 0) {
    size_t ea = extent(ta ? K : M, ta ? M : K, lda), eb = extent(tb ? N : K, tb ? K : N, ldb), ec = extent(M, N, ldc);
    size_t oa = (size_t)(n1 - 1) * sa1 + (size_t)(n2 - 1) * sa2, ob = (size_t)(n1 - 1) * sb1 + (size_t)(n2 - 1) * sb2;
    size_t oc = (size_t)(n1 - 1) * sc1 + (size_t)(n2 - 1) * sc2;
    bad = (ea && oa + ea > la) || (eb && ob + eb > lb) || (ec && oc + ec > lc) || lda < (ta ? M : K) || ldb < (tb ? K : N) ||
          ldc < N || lda < 1 || ldb < 1 || ldc < 1;
  }
  if (bad) {
    napi_throw_range_error(env, NULL, "ldnative.gemm: operands smaller than their shapes and strides");
    return NULL;
  }
  GemmArgs g = {a, b, c, M, N, K, ta, tb, lda, ldb, ldc, n1, n2, sa1, sa2, sb1, sb2, sc1, sc2};
  gemm_batch(&g);
  return NULL;
}

// ---------------------------------------------------------------------------- GELU (exact, erf)
// erf by the rational approximation XLA and Eigen use for float32 (abs. error ~1e-7), and e^x by
// Cody–Waite reduction and a degree-6 polynomial: both branch-free, so the loops vectorize (AVX-512
// or AVX2 clone where the CPU has it: each element's operations are the same at any width, so the
// same bits; AVX-512 measured 1.2-1.9x faster than AVX2 on the LearnedDropout loops on Zen 4).
#if defined(VECTOR_CLONES)
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

static inline float erf_f(float x) {
  x = x < -4.0f ? -4.0f : x; // two selects: gcc if-converts these, not the nested one
  x = x > 4.0f ? 4.0f : x;
  float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return x * p / q;
}

// e^x for x ≤ 0 (the GELU's density needs only those); underflows to 0 below −87. k = round(x·log2 e)
// by adding 1.5·2^23 (no float-to-int conversion: with one after the clamp, gcc 12 does not vectorize).
static inline float exp_neg_f(float x) {
  x = x < -87.0f ? -87.0f : x;
  union { float f; int32_t i; } t = {.f = x * 1.44269504088896341f + 12582912.0f};
  float k = t.f - 12582912.0f;
  float r = x - k * 0.693359375f - k * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  union { float f; int32_t i; } s = {.i = (t.i - 0x4b400000 + 127) << 23}; // 2^k: t's low bits hold k
  return p * s.f;
}

VECTOR_CLONES static void gelu_fwd(const float *u, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = 0.5f * u[i] * (1.0f + erf_f(u[i] * 0.70710678118654752f));
}

// du = dy · (Φ(u) + u·φ(u)),  Φ(u) = ½(1 + erf(u/√2)),  φ(u) = e^(−u²/2)/√(2π)
VECTOR_CLONES static void gelu_bwd(const float *restrict u, const float *restrict dy, float *restrict du, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float x = u[i];
    float cdf = 0.5f * (1.0f + erf_f(x * 0.70710678118654752f));
    float pdf = exp_neg_f(-0.5f * x * x) * 0.39894228040143268f;
    du[i] = dy[i] * (cdf + x * pdf);
  }
}

// gelu(u, y) or gelu(u, y, dy): y = GELU(u), or (with dy) y = dy · GELU'(u).
static napi_value Gelu(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  size_t lu = 0, ly = 0, ld = 0;
  float *u = argc >= 2 ? f32(env, argv[0], &lu) : NULL, *y = argc >= 2 ? f32(env, argv[1], &ly) : NULL;
  float *dy = argc == 3 ? f32(env, argv[2], &ld) : NULL;
  if (!u || !y || (argc == 3 && !dy) || ly != lu || (dy && ld != lu)) {
    napi_throw_range_error(env, NULL, "ldnative.gelu: (u, y[, dy]) float32 arrays of one length");
    return NULL;
  }
  if (dy) gelu_bwd(u, dy, y, lu);
  else gelu_fwd(u, y, lu);
  return NULL;
}

// ---------------------------------------------------------------------------- LearnedDropout
// The four loops of learnedDropout.ts (site forward/backward, attention forward/backward), with the
// same float64 arithmetic in the same order and the same polynomials and tables, so every element
// it writes is bit-identical to the JS loop's; rows are split over threads, so only the sums (the
// penalties' H and L1, dA, dB) are added in another order. As there, a sin/cos argument too large
// for the two-part reduction (|k| > 1e6) is reported and the caller redoes the site in JS.

static double LOG_C[128], INV_C[128], POW2[2200]; // from kernels.ts (ldTables), not recomputed here

#define LOG2E 1.4426950408889634
#define LN2 0.6931471805599453
#define TWO_OVER_PI 0.6366197723675814
#define PIO2_HI 1.5707963267341256
#define PIO2_LO 6.077100506506192e-11
#define EPS 1e-9

static inline double flog(double v) {
  union { float f; int32_t i; } u = {.f = (float)v};
  int32_t b = u.i, i = (b >> 16) & 127; // i < 128: gathered from the tables
  double t = (1 + (double)(b & 0x7fffff) * 1.1920928955078125e-7) * INV_C[i] - 1;
  return (double)((b >> 23) - 127) * LN2 + LOG_C[i] + t * (1 - t * (0.5 - t * (1.0 / 3 - t * 0.25)));
}

static inline double fexp(double x) {
  if (x != x) return x; // NaN in, NaN out (as the JS: POW2[NaN] is undefined)
  if (x < -745) return 0;
  double t = x * LOG2E, n = floor(t + 0.5), f = (t - n) * LN2;
  double p = 1 + f * (1 + f * (0.5 + f * (1.0 / 6 + f * (1.0 / 24 + f * (1.0 / 120 + f * (1.0 / 720 + f * (1.0 / 5040)))))));
  return p * POW2[(int)n + 1100];
}

typedef struct { double gH, gL1; int complement, penalties; } Coef;

// sin z and cos z by Cody–Waite reduction (z − k·π/2, k = round(z·2/π)) and Taylor polynomials on
// [−π/4, π/4], the quadrant signs by arithmetic instead of a table (±1 either way: the same
// products): branch-free, so that the loops it is inlined into vectorize. big: |k| > 1e6 or NaN, too
// large for the two-part reduction (the result is then garbage). Where a caller uses only cos, the
// sin's last steps are dead code and compiled away.
typedef struct { double sinz, cosz; int big; } SinCos;
static inline __attribute__((always_inline)) SinCos sincos_reduced(double zz) {
  double k = floor(zz * TWO_OVER_PI + 0.5);
  int big = !(fabs(k) <= 1e6); // NaN too
  k = big ? 0 : k;
  double r = zz - k * PIO2_HI - k * PIO2_LO, r2 = r * r, r4 = r2 * r2;
  double sn = r * (1 - r2 / 6 + r4 * (1.0 / 120 - r2 / 5040 + r4 / 362880));
  double cs = 1 - 0.5 * r2 + r4 * (1.0 / 24 - r2 / 720 + r4 / 40320);
  int32_t ki = (int32_t)k, qd = ki & 3;
  double odd = (double)(ki & 1);
  double ssign = (double)(1 - 2 * (qd >> 1)), csign = (double)(1 - 2 * (((qd + 1) >> 1) & 1)); // Q_SIN[qd], Q_COS[qd]
  return (SinCos){ssign * (odd * cs + (1 - odd) * sn), csign * (odd * sn + (1 - odd) * cs), big};
}

// Per element of a span: the mask m, ∂m/∂z (q), the entropy term h and the penalties' gradient g
// (maskElement in learnedDropout.ts; h and g are 0 without penalties). Branch-free (sincos_reduced),
// so that it vectorizes. Returns 1 if some |k| > 1e6 (those elements are garbage: the caller redoes the site).
// (comp and pen are constants in each of mask_span's four calls: a select on a loop-invariant
// condition would keep gcc from vectorizing. gcc 12 does not vectorize the log's table lookups
// either, so with penalties the log runs as a scalar pass in between, over z as scratch.)
static inline __attribute__((always_inline)) int mask_span_impl(double *restrict z, size_t n, double gH, double gL1,
                                                                  const int comp, const int pen, double *restrict m,
                                                                  double *restrict q, double *restrict h, double *restrict g) {
  int bad = 0;
  for (size_t j = 0; j < n; j++) {
    const SinCos sc = sincos_reduced(z[j]);
    bad |= sc.big;
    double mv = 0.5 * sc.cosz + 0.5;
    m[j] = mv;
    q[j] = -0.5 * sc.sinz;
    double p = comp ? 1 - mv : mv;
    g[j] = pen ? p : 0;       // p, for now
    h[j] = pen ? p + EPS : 0; // p + ε, for now
  }
  if (!pen) return bad;
  for (size_t j = 0; j < n; j++) z[j] = flog(h[j]);
  for (size_t j = 0; j < n; j++) {
    double p = g[j], v = h[j], lg = z[j];
    double dh = -(lg + p / v);
    h[j] = -p * lg;
    g[j] = gH * (comp ? -dh : dh) + gL1;
  }
  return bad;
}
// One function per case, each vectorized on its own (with the four inlined into one, gcc
// vectorized only some of them).
#define MASK_SPAN(name, comp, pen)                                                                      \
  VECTOR_CLONES __attribute__((noinline)) static int name(double *z, size_t n, double gH, double gL1, double *m,       \
                                                          double *q, double *h, double *g) {           \
    return mask_span_impl(z, n, gH, gL1, comp, pen, m, q, h, g);                                        \
  }
MASK_SPAN(mask_span_00, 0, 0)
MASK_SPAN(mask_span_01, 0, 1)
MASK_SPAN(mask_span_10, 1, 0)
MASK_SPAN(mask_span_11, 1, 1)
// z is overwritten (scratch).
static int mask_span(double *z, size_t n, const Coef *c, double *m, double *q, double *h, double *g) {
  if (c->complement)
    return (c->penalties ? mask_span_11 : mask_span_10)(z, n, c->gH, c->gL1, m, q, h, g);
  return (c->penalties ? mask_span_01 : mask_span_00)(z, n, c->gH, c->gL1, m, q, h, g);
}

// ---- a fork-join over rows: the calling thread and up to MAX_THREADS - 1 pool workers

typedef struct Task Task;
typedef void (*RowFn)(Task *t, size_t r0, size_t r1);
struct Task {
  RowFn fn;
  const void *args;
  size_t r0, r1;
  double hsum, l1sum, kmax;
  double *dA, *dB; // per-thread partial sums (backward)
  int slot;        // the chunk's index: its scratch (task_scratch)
};
static void *run_task(void *p) {
  Task *t = p;
  t->fn(t, t->r0, t->r1);
  return NULL;
}

// Scratch kept across calls, one per chunk index (a chunk runs on one thread at a time, and
// pool_use lets one fork-join run at a time): grown when a call needs more, never shrunk.
typedef struct { void *p; size_t cap; } Scratch;
static Scratch row_scratch[MAX_THREADS], sum_scratch[MAX_THREADS];
static void *grow(Scratch *s, size_t bytes) {
  if (bytes > s->cap) {
    free(s->p);
    s->p = malloc(bytes);
    s->cap = s->p ? bytes : 0;
  }
  return s->p;
}
// Bytes of the calling task's scratch (NULL: out of memory); its contents are left from before.
static void *task_scratch(Task *t, size_t bytes) { return grow(&row_scratch[t->slot], bytes); }

// Per-thread scratch for one row of up to n elements: z, m, q, h, g, probabilities (float64), and
// float32 rows for outputs the caller did not ask for.
typedef struct { double *z, *m, *q, *h, *g, *pp; float *f1, *f2, *f3; } Row;
static int row_alloc(Task *t, Row *w, size_t n) {
  double *d = task_scratch(t, n * (6 * sizeof(double) + 3 * sizeof(float)));
  if (!d) return 0;
  float *f = (float *)(d + 6 * n);
  *w = (Row){d, d + n, d + 2 * n, d + 3 * n, d + 4 * n, d + 5 * n, f, f + n, f + 2 * n};
  return 1;
}

// The pool: workers started at first need (never more than n_threads − 1 of them, in all), each
// sleeping on its own condition variable until its go counter moves. Worker w runs chunk w + 1 of a
// fork-join; the caller runs chunk 0. Waits sleep at once: spinning 5-100 µs first (a tiny step
// makes ~30 fork-joins) measured no steady gain on 2 cores, where OpenBLAS's threads spin too. The
// workers are detached and hold nothing at exit; the process ends without joining them.
typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  _Atomic unsigned go; // bumped by the caller per chunk handed over
  Task *task;
} __attribute__((aligned(64))) Worker;
static Worker workers[MAX_THREADS - 1];
static int pool_size; // workers started
static pthread_mutex_t pool_use = PTHREAD_MUTEX_INITIALIZER; // one fork-join at a time (the addon in two JS threads)
static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static _Atomic int pool_left; // chunks handed to workers and not yet done

static void *worker_main(void *p) {
  Worker *me = p;
  unsigned seen = 0;
  for (;;) {
    unsigned g;
    pthread_mutex_lock(&me->mu);
    while ((g = atomic_load_explicit(&me->go, memory_order_acquire)) == seen) pthread_cond_wait(&me->cv, &me->mu);
    pthread_mutex_unlock(&me->mu);
    seen = g;
    run_task(me->task);
    if (atomic_fetch_sub_explicit(&pool_left, 1, memory_order_acq_rel) == 1) {
      pthread_mutex_lock(&done_mu); // under the lock: the caller checks pool_left under it before it sleeps
      pthread_cond_signal(&done_cv);
      pthread_mutex_unlock(&done_mu);
    }
  }
  return NULL;
}
// Starts workers until there are `want` (or one fails to start); returns how many there are.
static int pool_grow(int want) {
  while (pool_size < want) {
    Worker *w = &workers[pool_size];
    pthread_attr_t attr;
    pthread_t tid;
    if (pthread_mutex_init(&w->mu, NULL) != 0) break;
    if (pthread_cond_init(&w->cv, NULL) != 0) {
      pthread_mutex_destroy(&w->mu);
      break;
    }
    atomic_store(&w->go, 0);
    // with every signal blocked (the new thread inherits the mask): Node's handlers stay on its threads
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int ok = 0;
    if (pthread_attr_init(&attr) == 0) {
      ok = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 && pthread_create(&tid, &attr, worker_main, w) == 0;
      pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!ok) {
      pthread_cond_destroy(&w->cv);
      pthread_mutex_destroy(&w->mu);
      break;
    }
    pool_size++;
  }
  return pool_size;
}
static void pool_hand(Worker *w, Task *t) {
  w->task = t;
  pthread_mutex_lock(&w->mu);
  atomic_store_explicit(&w->go, atomic_load_explicit(&w->go, memory_order_relaxed) + 1, memory_order_release);
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}
static void pool_wait(void) {
  if (!atomic_load_explicit(&pool_left, memory_order_acquire)) return;
  pthread_mutex_lock(&done_mu);
  while (atomic_load_explicit(&pool_left, memory_order_acquire)) pthread_cond_wait(&done_cv, &done_mu);
  pthread_mutex_unlock(&done_mu);
}

// Runs fn over rows [0, rows) in up to n_threads chunks (fewer when the work is small); sums the
// threads' partial sums in thread order. width: floats (or cost units) per row, to judge "small".
static int parallel_rows(RowFn fn, const void *args, size_t rows, size_t width, size_t n_sums, double *out3, double *dA, double *dB) {
  int nt = n_threads;
  // at least ~64k floats of work per thread: handing a chunk over costs microseconds
  const size_t by_work = rows * width / 65536;
  if ((size_t)nt > by_work) nt = by_work < 1 ? 1 : (int)by_work;
  if ((size_t)nt > rows) nt = (int)rows;
  Task tasks[MAX_THREADS];
  pthread_mutex_lock(&pool_use);
  for (int i = 1; i < nt && n_sums; i++) {
    double *s = grow(&sum_scratch[i], 2 * n_sums * sizeof(double));
    if (!s) {
      nt = i; // out of memory: fewer chunks
      break;
    }
    memset(s, 0, 2 * n_sums * sizeof(double));
  }
  for (int i = 0; i < nt; i++) {
    Task *t = &tasks[i];
    t->fn = fn;
    t->args = args;
    t->r0 = rows * i / nt;
    t->r1 = rows * (i + 1) / nt;
    t->hsum = t->l1sum = t->kmax = 0;
    t->dA = i == 0 ? dA : n_sums ? (double *)sum_scratch[i].p : NULL;
    t->dB = i == 0 ? dB : n_sums ? (double *)sum_scratch[i].p + n_sums : NULL;
    t->slot = i;
  }
  last_threads = nt;
  // chunks without a worker (one that could not start) run here
  int workers_used = nt > 1 ? pool_grow(nt - 1) : 0;
  if (workers_used > nt - 1) workers_used = nt - 1;
  const int started = 1 + workers_used;
  atomic_store_explicit(&pool_left, started - 1, memory_order_relaxed);
  for (int i = 1; i < started; i++) pool_hand(&workers[i - 1], &tasks[i]);
  for (int i = started; i < nt; i++) run_task(&tasks[i]);
  run_task(&tasks[0]);
  if (started > 1) pool_wait();
  double h = 0, l = 0, k = 0;
  for (int i = 0; i < nt; i++) {
    h += tasks[i].hsum;
    l += tasks[i].l1sum;
    if (tasks[i].kmax > k) k = tasks[i].kmax;
    if (i > 0 && n_sums)
      for (size_t j = 0; j < n_sums; j++) {
        dA[j] += tasks[i].dA[j];
        dB[j] += tasks[i].dB[j];
      }
  }
  pthread_mutex_unlock(&pool_use);
  if (out3) {
    out3[0] += h;
    out3[1] += l;
    out3[2] = k;
  }
  return nt;
}

// ---- batched products: the products k in [r0, r1) of the n1 × n2 batch
static void gemm_rows(Task *t, size_t r0, size_t r1) {
  const GemmArgs *g = t->args;
  for (size_t k = r0; k < r1; k++) {
    const size_t i = k / (size_t)g->n2, j = k % (size_t)g->n2;
    float *cij = g->c + i * g->sc1 + j * g->sc2;
    if (g->K == 0) {
      for (int r = 0; r < g->M; r++) memset(cij + (size_t)r * g->ldc, 0, (size_t)g->N * sizeof(float));
      continue;
    }
    if (g->M == 0 || g->N == 0) continue;
    sgemm(RowMajor, g->ta ? Trans : NoTrans, g->tb ? Trans : NoTrans, g->M, g->N, g->K, 1.0f, g->a + i * g->sa1 + j * g->sa2, g->lda,
          g->b + i * g->sb1 + j * g->sb2, g->ldb, 0.0f, cij, g->ldc);
  }
}
// One product's rows [r0, r1) of C, from op(A)'s same rows.
static void gemm_split_rows(Task *t, size_t r0, size_t r1) {
  const GemmArgs *g = t->args;
  sgemm(RowMajor, g->ta ? Trans : NoTrans, g->tb ? Trans : NoTrans, (int)(r1 - r0), g->N, g->K, 1.0f, g->a + (g->ta ? r0 : r0 * g->lda),
        g->lda, g->b, g->ldb, 0.0f, g->c + r0 * g->ldc, g->ldc);
}
// Many small products (attention's, per batch and head) run side by side on our threads, each on
// one BLAS thread: BLAS's own threads gain little on a 128 × 128 × 32 product and cost a hand-off
// per call. A single product is split by rows of C over our threads, each on one BLAS thread
// (BLAS's threads spin-wait after each call, taking a core from ours on a small machine). Large
// batches use BLAS's threads.
static void gemm_batch(const GemmArgs *g) {
  const size_t count = (size_t)g->n1 * g->n2, flops = (size_t)g->M * g->N * g->K;
#ifndef GEMM_SPLIT_OFF
  if (count == 1 && n_threads > 1 && g->M >= 16 && g->N > 0 && g->K > 0 && set_threads && get_threads) {
    const int blas = get_threads();
    set_threads(1);
    // ~1M multiply-adds per thread at least (about 0.1 ms): less does not pay for the hand-off
    parallel_rows(gemm_split_rows, g, g->M, (size_t)g->N * g->K / 16, 0, NULL, NULL, NULL);
    set_threads(blas);
    return;
  }
#endif
  if (count >= 2 && n_threads > 1 && flops < ((size_t)1 << 22) && set_threads && get_threads) {
    const int blas = get_threads();
    set_threads(1);
    parallel_rows(gemm_rows, g, count, flops < 65536 ? 1 : 65536, 0, NULL, NULL, NULL);
    set_threads(blas);
    return;
  }
  Task t = {gemm_rows, g, 0, count, 0, 0, 0, NULL, NULL, 0};
  gemm_rows(&t, 0, count);
}

// ---- site forward: y = x ⊙ m over rows of n, m = ½cos(A⊙x + B) + ½
typedef struct {
  const float *x, *a, *b;
  float *y, *m, *q, *r;
  size_t n;
  Coef c;
} FwdArgs;
// Plain inference (no q and r for a backward, no penalties): m = ½cos(A⊙x + B) + ½ and y = x ⊙ m in
// one pass, without the sin, q, r or scratch rows; mask_span's expressions, so the same bits.
VECTOR_CLONES __attribute__((noinline)) static int site_mask_only(const float *restrict x, const float *restrict a, const float *restrict b,
                                                                 size_t n, float *restrict y, float *restrict m) {
  int bad = 0;
  for (size_t j = 0; j < n; j++) {
    const SinCos sc = sincos_reduced((double)a[j] * (double)x[j] + (double)b[j]);
    bad |= sc.big;
    const double mv = 0.5 * sc.cosz + 0.5;
    y[j] = (float)((double)x[j] * mv);
    m[j] = (float)mv;
  }
  return bad;
}
VECTOR_CLONES static void site_fwd_rows(Task *t, size_t r0, size_t r1) {
  const FwdArgs *A = t->args;
  const size_t n = A->n;
  Row w;
  if (!row_alloc(t, &w, n)) {
    t->kmax = 1e300; // cannot run: the caller redoes the site in JS
    return;
  }
  double hsum = 0, l1sum = 0;
  int bad = 0;
  if (!A->q && !A->c.penalties) {
    for (size_t row = r0; row < r1; row++)
      bad |= site_mask_only(A->x + row * n, A->a, A->b, n, A->y + row * n, A->m ? A->m + row * n : w.f1);
    t->kmax = bad ? 1e300 : 0;
    return;
  }
  for (size_t row = r0; row < r1; row++) {
    const size_t e = row * n;
    const float *x = A->x + e;
    float *y = A->y + e, *m = A->m ? A->m + e : w.f1, *q = A->q ? A->q + e : w.f2, *r = A->r ? A->r + e : w.f3;
    for (size_t j = 0; j < n; j++) w.z[j] = (double)A->a[j] * (double)x[j] + (double)A->b[j];
    bad |= mask_span(w.z, n, &A->c, w.m, w.q, w.h, w.g);
    for (size_t j = 0; j < n; j++) {
      y[j] = (float)((double)x[j] * w.m[j]);
      m[j] = (float)w.m[j];
      q[j] = (float)w.q[j];
      r[j] = (float)(w.q[j] * w.g[j]);
    }
    if (A->c.penalties)
      for (size_t j = 0; j < n; j++) {
        hsum += w.h[j];
        l1sum += w.m[j];
      }
  }
  t->hsum = hsum;
  t->l1sum = l1sum;
  t->kmax = bad ? 1e300 : 0;
}

// ---- site backward: t = dy·x·q + r; dA += t·x, dB += t; dx = dy·m
typedef struct {
  const float *dy, *x, *m, *q, *r;
  float *dx;
  size_t n;
} BwdArgs;
VECTOR_CLONES static void site_bwd_rows(Task *t, size_t r0, size_t r1) {
  const BwdArgs *A = t->args;
  const size_t n = A->n;
  double *dA = t->dA, *dB = t->dB;
  for (size_t row = r0; row < r1; row++) {
    const size_t e = row * n;
    const float *dy = A->dy + e, *x = A->x + e, *m = A->m + e, *q = A->q + e, *r = A->r + e;
    float *dx = A->dx + e;
    for (size_t j = 0; j < n; j++) {
      double xe = x[j], g = dy[j];
      double tt = g * xe * (double)q[j] + (double)r[j];
      dA[j] += tt * xe;
      dB[j] += tt;
      dx[j] = (float)(g * (double)m[j]);
    }
  }
}

// ---- attention forward: p = softmax(scale·s) over visible keys, y = p ⊙ m (rows of T; row i mod T)
typedef struct {
  const float *s, *a, *b;
  float *y, *m, *p, *q, *r;
  const double *m0;
  size_t T;
  double scale;
  Coef c;
} AttnFwdArgs;
// ex = fexp((s − mx)·scale) with 2^n made from its bits instead of POW2's table (gcc does not
// vectorize the lookup; the values are the same powers of two). Exponents below the normal range
// (x < −708, never seen in softmax rows in practice) redo the span with the table.
VECTOR_CLONES static void exp_span(const float *restrict s, double mx, double scale, double *restrict ex, size_t n) {
  int sub = 0;
  for (size_t j = 0; j < n; j++) {
    double x = ((double)s[j] - mx) * scale;
    double t = x * LOG2E, k = floor(t + 0.5), f = (t - k) * LN2;
    double p = 1 + f * (1 + f * (0.5 + f * (1.0 / 6 + f * (1.0 / 24 + f * (1.0 / 120 + f * (1.0 / 720 + f * (1.0 / 5040)))))));
    sub |= k < -1022 && !(x < -745);
    double kc = k < -1022 ? -1022 : k > 1023 ? 1023 : k;
    union { double d; int64_t i; } u = {.d = kc + (1023 + 6755399441055744.0)}; // low bits: k + 1023
    u.i <<= 52;                                                                   // 2^k
    ex[j] = x < -745 ? 0 : p * u.d;
  }
  if (sub)
    for (size_t j = 0; j < n; j++) ex[j] = fexp(((double)s[j] - mx) * scale);
}
// Plain inference (no q, r, no penalties): from the row's exponentials ex and 1/Σex, the
// probabilities, the mask and y = p ⊙ m in one pass; mask_span's expressions, so the same bits.
// The caller may pass n past the row's visible entries, with ex = 0 there (entries above the
// diagonal, which it overwrites), so that n is a whole number of vectors: no scalar remainder loop
// ends each short row.
// (with_p: also the probabilities, for an analysis that asks for the site's input; a constant in
// each of the two functions below, each vectorized on its own)
static inline __attribute__((always_inline)) int attn_mask_impl(const double *restrict ex, double inv, const float *restrict a,
                                                                 const float *restrict b, size_t n, float *restrict y, float *restrict m,
                                                                 float *restrict p, const int with_p) {
  int bad = 0;
  for (size_t j = 0; j < n; j++) {
    const double pp = ex[j] * inv;
    const SinCos sc = sincos_reduced((double)a[j] * pp + (double)b[j]);
    bad |= sc.big;
    const double mv = 0.5 * sc.cosz + 0.5;
    y[j] = (float)(pp * mv);
    m[j] = (float)mv;
    if (with_p) p[j] = (float)pp;
  }
  return bad;
}
VECTOR_CLONES __attribute__((noinline)) static int attn_mask_only(const double *restrict ex, double inv, const float *restrict a,
                                                                 const float *restrict b, size_t n, float *restrict y, float *restrict m) {
  return attn_mask_impl(ex, inv, a, b, n, y, m, NULL, 0);
}
VECTOR_CLONES __attribute__((noinline)) static int attn_mask_and_p(const double *restrict ex, double inv, const float *restrict a,
                                                                  const float *restrict b, size_t n, float *restrict y, float *restrict m,
                                                                  float *restrict p) {
  return attn_mask_impl(ex, inv, a, b, n, y, m, p, 1);
}
VECTOR_CLONES static void attn_fwd_rows(Task *t, size_t r0, size_t r1) {
  const AttnFwdArgs *A = t->args;
  const size_t T = A->T;
  Row w;
  if (!row_alloc(t, &w, T)) {
    t->kmax = 1e300;
    return;
  }
  double hsum = 0, l1sum = 0;
  int bad = 0;
  const int plain = !A->q && !A->c.penalties; // no backward, no penalties (p may be asked: an analysis)
  for (size_t row = r0; row < r1; row++) {
    const size_t i = row % T, o0 = row * T, len = i + 1;
    const float *sr = A->s + o0;
    float *y = A->y + o0, *m = A->m ? A->m + o0 : w.f1, *p = A->p ? A->p + o0 : w.f2, *q = A->q ? A->q + o0 : w.f3;
    float *r = A->r ? A->r + o0 : w.f3;
    double mx = -INFINITY;
    for (size_t j = 0; j < len; j++)
      if (sr[j] > mx) mx = sr[j];
    exp_span(sr, mx, A->scale, w.pp, len);
    double sum = 0;
    for (size_t j = 0; j < len; j++) sum += w.pp[j]; // in order: the probabilities depend on it
    const double inv = 1 / sum;
    if (plain) {
      // the mask to a multiple of 8 entries within the row (see attn_mask_only)
      const size_t span8 = (len + 7) & ~(size_t)7, span = span8 < T ? span8 : T;
      for (size_t j = len; j < span; j++) w.pp[j] = 0;
      bad |= A->p ? attn_mask_and_p(w.pp, inv, A->a, A->b, span, y, m, p) : attn_mask_only(w.pp, inv, A->a, A->b, span, y, m);
      for (size_t j = len; j < T; j++) {
        y[j] = 0;
        m[j] = (float)A->m0[j];
      }
      continue;
    }
    for (size_t j = 0; j < len; j++) {
      w.pp[j] = w.pp[j] * inv;
      w.z[j] = (double)A->a[j] * w.pp[j] + (double)A->b[j];
    }
    bad |= mask_span(w.z, len, &A->c, w.m, w.q, w.h, w.g);
    for (size_t j = 0; j < len; j++) {
      y[j] = (float)(w.pp[j] * w.m[j]);
      p[j] = (float)w.pp[j];
      m[j] = (float)w.m[j];
      q[j] = (float)w.q[j];
      r[j] = (float)(w.q[j] * w.g[j]);
    }
    if (A->c.penalties)
      for (size_t j = 0; j < len; j++) {
        hsum += w.h[j];
        l1sum += w.m[j];
      }
    for (size_t j = len; j < T; j++) {
      y[j] = 0;
      m[j] = (float)A->m0[j];
    }
  }
  t->hsum = hsum;
  t->l1sum = l1sum;
  t->kmax = bad ? 1e300 : 0;
}

// ---- attention backward: through the mask and the softmax; dS = 0 above the diagonal
typedef struct {
  const float *dy, *p, *m, *q, *r;
  float *ds;
  size_t T;
  double scale;
} AttnBwdArgs;
VECTOR_CLONES static void attn_bwd_rows(Task *t, size_t r0, size_t r1) {
  const AttnBwdArgs *A = t->args;
  const size_t T = A->T;
  double *dA = t->dA, *dB = t->dB;
  double *dp = task_scratch(t, 2 * T * sizeof(double)), *dx = dp + T;
  if (!dp) {
    t->kmax = 1e300; // out of memory: AttnBwd throws
    return;
  }
  for (size_t row = r0; row < r1; row++) {
    const size_t i = row % T, o0 = row * T, len = i + 1;
    const float *dy = A->dy + o0, *p = A->p + o0, *m = A->m + o0, *q = A->q + o0, *r = A->r + o0;
    float *ds = A->ds + o0;
    for (size_t j = 0; j < len; j++) {
      double x = p[j], g = dy[j];
      double tt = g * x * (double)q[j] + (double)r[j];
      dA[j] += tt * x;
      dB[j] += tt;
      double d = g * (double)m[j];
      dp[j] = d;
      dx[j] = d * x;
    }
    double dot = 0;
    for (size_t j = 0; j < len; j++) dot += dx[j]; // in order, as the JS
    for (size_t j = 0; j < len; j++) ds[j] = (float)(A->scale * (double)p[j] * (dp[j] - dot));
    for (size_t j = len; j < T; j++) ds[j] = 0;
  }
}

// ---- LayerNorm (weight only, as the model's): y = (x − μ)·rstd·w over rows of C, rstd = 1/√(σ² + ε)
typedef struct {
  const float *x, *w, *dy;
  float *y, *mean, *rstd, *dx;
  size_t C;
  double eps;
} LnArgs;
VECTOR_CLONES static void ln_fwd_rows(Task *t, size_t r0, size_t r1) {
  const LnArgs *A = t->args;
  const size_t C = A->C;
  for (size_t row = r0; row < r1; row++) {
    const float *x = A->x + row * C;
    float *y = A->y + row * C;
    double s[4] = {0, 0, 0, 0}, ss[4] = {0, 0, 0, 0}; // four running sums: no one long dependency chain
    size_t j = 0;
    for (; j + 4 <= C; j += 4)
      for (int l = 0; l < 4; l++) s[l] += x[j + l];
    for (; j < C; j++) s[0] += x[j];
    const double mu = (s[0] + s[1] + s[2] + s[3]) / C;
    for (j = 0; j + 4 <= C; j += 4)
      for (int l = 0; l < 4; l++) ss[l] += ((double)x[j + l] - mu) * ((double)x[j + l] - mu);
    for (; j < C; j++) ss[0] += ((double)x[j] - mu) * ((double)x[j] - mu);
    const double rstd = 1 / sqrt((ss[0] + ss[1] + ss[2] + ss[3]) / C + A->eps);
    for (size_t j = 0; j < C; j++) y[j] = (float)(((double)x[j] - mu) * rstd * (double)A->w[j]);
    A->mean[row] = (float)mu;
    A->rstd[row] = (float)rstd;
  }
}
// dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·w, x̂ = (x − μ)·rstd;  dw += dy·x̂
VECTOR_CLONES static void ln_bwd_rows(Task *t, size_t r0, size_t r1) {
  const LnArgs *A = t->args;
  const size_t C = A->C;
  double *dw = t->dA;
  for (size_t row = r0; row < r1; row++) {
    const float *x = A->x + row * C, *dy = A->dy + row * C;
    float *dx = A->dx + row * C;
    const double mu = A->mean[row], rstd = A->rstd[row];
    for (size_t j = 0; j < C; j++) dw[j] += (double)dy[j] * (((double)x[j] - mu) * rstd);
    double sg[4] = {0, 0, 0, 0}, sgx[4] = {0, 0, 0, 0};
    size_t j = 0;
    for (; j + 4 <= C; j += 4)
      for (int l = 0; l < 4; l++) {
        double xh = ((double)x[j + l] - mu) * rstd, g = (double)dy[j + l] * (double)A->w[j + l];
        sg[l] += g;
        sgx[l] += g * xh;
      }
    for (; j < C; j++) {
      double xh = ((double)x[j] - mu) * rstd, g = (double)dy[j] * (double)A->w[j];
      sg[0] += g;
      sgx[0] += g * xh;
    }
    const double a = (sg[0] + sg[1] + sg[2] + sg[3]) / C, b = (sgx[0] + sgx[1] + sgx[2] + sgx[3]) / C;
    for (size_t j = 0; j < C; j++) {
      double xh = ((double)x[j] - mu) * rstd;
      dx[j] = (float)(rstd * ((double)dy[j] * (double)A->w[j] - a - xh * b));
    }
  }
}

// ---- N-API glue
static int opt_f32(napi_env env, napi_value v, float **out, size_t want) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_null || t == napi_undefined) {
    *out = NULL;
    return 1;
  }
  size_t len;
  *out = f32(env, v, &len);
  return *out && len == want;
}
static double *f64(napi_env env, napi_value v, size_t want) {
  napi_typedarray_type type;
  void *data;
  size_t len;
  if (napi_get_typedarray_info(env, v, &type, &len, &data, NULL, NULL) != napi_ok || type != napi_float64_array || len != want) return NULL;
  return data;
}
static int get_f64s(napi_env env, napi_value *argv, double *out, int n) {
  for (int i = 0; i < n; i++)
    if (napi_get_value_double(env, argv[i], &out[i]) != napi_ok) return 0;
  return 1;
}
#define ARGS(n)                                                                        \
  size_t argc = n;                                                                     \
  napi_value argv[n];                                                                  \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));                         \
  if (argc != n || !tables_set) {                                                      \
    napi_throw_error(env, NULL, tables_set ? "ldnative: " #n " arguments expected" : "ldnative: ldTables first"); \
    return NULL;                                                                       \
  }
#define BAD(what)                                                                      \
  do {                                                                                 \
    napi_throw_range_error(env, NULL, "ldnative." what ": arguments do not match their shapes"); \
    return NULL;                                                                       \
  } while (0)

// ldTables(LOG_C[128] ‖ INV_C[128] ‖ POW2[2200] as one Float64Array), threads
static napi_value LdTables(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  double *tab = argc == 2 ? f64(env, argv[0], 2456) : NULL;
  int32_t threads;
  if (!tab || napi_get_value_int32(env, argv[1], &threads) != napi_ok || threads < 1) BAD("ldTables");
  memcpy(LOG_C, tab, sizeof LOG_C);
  memcpy(INV_C, tab + 128, sizeof INV_C);
  memcpy(POW2, tab + 256, sizeof POW2);
  n_threads = threads > MAX_THREADS ? MAX_THREADS : threads;
  tables_set = 1;
  return NULL;
}

// ldFwd(x, a, b, y, m?, q?, r?, n, gH, gL1, complement, penalties, out: Float64Array[3] = hsum, l1sum, kmax)
static napi_value LdFwd(napi_env env, napi_callback_info info) {
  ARGS(13);
  size_t N;
  int32_t n, flags[2];
  double g[2];
  FwdArgs A;
  float *x = f32(env, argv[0], &N);
  if (!x || napi_get_value_int32(env, argv[7], &n) != napi_ok || n < 1 || N % n || !get_f64s(env, argv + 8, g, 2) ||
      !get_ints(env, argv + 10, flags, 2))
    BAD("ldFwd");
  A.x = x;
  A.n = n;
  A.c = (Coef){g[0], g[1], flags[0], flags[1]};
  float *a, *b, *y;
  double *out = f64(env, argv[12], 3);
  if (!opt_f32(env, argv[1], &a, n) || !a || !opt_f32(env, argv[2], &b, n) || !b || !opt_f32(env, argv[3], &y, N) || !y ||
      !opt_f32(env, argv[4], &A.m, N) || !opt_f32(env, argv[5], &A.q, N) || !opt_f32(env, argv[6], &A.r, N) || !out ||
      (!A.q != !A.r))
    BAD("ldFwd");
  A.a = a, A.b = b, A.y = y;
  out[0] = out[1] = out[2] = 0;
  parallel_rows(site_fwd_rows, &A, N / n, n, 0, out, NULL, NULL);
  return NULL;
}

// ldBwd(dy, x, m, q, r, dx, dA: Float64Array[n], dB: Float64Array[n], n): dA, dB are added to
static napi_value LdBwd(napi_env env, napi_callback_info info) {
  ARGS(9);
  size_t N;
  int32_t n;
  BwdArgs A;
  float *dy = f32(env, argv[0], &N);
  if (!dy || napi_get_value_int32(env, argv[8], &n) != napi_ok || n < 1 || N % n) BAD("ldBwd");
  float *x, *m, *q, *r, *dx;
  double *dA = f64(env, argv[6], n), *dB = f64(env, argv[7], n);
  if (!opt_f32(env, argv[1], &x, N) || !x || !opt_f32(env, argv[2], &m, N) || !m || !opt_f32(env, argv[3], &q, N) || !q ||
      !opt_f32(env, argv[4], &r, N) || !r || !opt_f32(env, argv[5], &dx, N) || !dx || !dA || !dB)
    BAD("ldBwd");
  A = (BwdArgs){dy, x, m, q, r, dx, (size_t)n};
  parallel_rows(site_bwd_rows, &A, N / n, n, n, NULL, dA, dB);
  return NULL;
}

// attnFwd(s, a, b, y, m?, p?, q?, r?, T, scale, gH, gL1, complement, penalties, m0: Float64Array[T], out[3])
static napi_value AttnFwd(napi_env env, napi_callback_info info) {
  ARGS(16);
  size_t N;
  int32_t T, flags[2];
  double g[3];
  AttnFwdArgs A;
  float *s = f32(env, argv[0], &N);
  if (!s || napi_get_value_int32(env, argv[8], &T) != napi_ok || T < 1 || N % T || !get_f64s(env, argv + 9, g, 3) ||
      !get_ints(env, argv + 12, flags, 2))
    BAD("attnFwd");
  float *a, *b, *y;
  double *m0 = f64(env, argv[14], T), *out = f64(env, argv[15], 3);
  if (!opt_f32(env, argv[1], &a, T) || !a || !opt_f32(env, argv[2], &b, T) || !b || !opt_f32(env, argv[3], &y, N) || !y ||
      !opt_f32(env, argv[4], &A.m, N) || !opt_f32(env, argv[5], &A.p, N) || !opt_f32(env, argv[6], &A.q, N) ||
      !opt_f32(env, argv[7], &A.r, N) || !m0 || !out || (!A.q != !A.r)) // p may come alone (an analysis)
    BAD("attnFwd");
  A.s = s, A.a = a, A.b = b, A.y = y, A.m0 = m0, A.T = T, A.scale = g[0];
  A.c = (Coef){g[1], g[2], flags[0], flags[1]};
  out[0] = out[1] = out[2] = 0;
  parallel_rows(attn_fwd_rows, &A, N / T, T, 0, out, NULL, NULL);
  return NULL;
}

// attnBwd(dy, p, m, q, r, ds, dA: Float64Array[T], dB: Float64Array[T], T, scale): dA, dB are added to
static napi_value AttnBwd(napi_env env, napi_callback_info info) {
  ARGS(10);
  size_t N;
  int32_t T;
  double scale;
  float *dy = f32(env, argv[0], &N);
  if (!dy || napi_get_value_int32(env, argv[8], &T) != napi_ok || T < 1 || N % T || napi_get_value_double(env, argv[9], &scale) != napi_ok)
    BAD("attnBwd");
  float *p, *m, *q, *r, *ds;
  double *dA = f64(env, argv[6], T), *dB = f64(env, argv[7], T);
  if (!opt_f32(env, argv[1], &p, N) || !p || !opt_f32(env, argv[2], &m, N) || !m || !opt_f32(env, argv[3], &q, N) || !q ||
      !opt_f32(env, argv[4], &r, N) || !r || !opt_f32(env, argv[5], &ds, N) || !ds || !dA || !dB)
    BAD("attnBwd");
  AttnBwdArgs A = {dy, p, m, q, r, ds, (size_t)T, scale};
  double out[3] = {0, 0, 0};
  parallel_rows(attn_bwd_rows, &A, N / T, T, T, out, dA, dB);
  if (out[2] > 0) napi_throw_error(env, NULL, "ldnative.attnBwd: out of memory");
  return NULL;
}

// layerNorm(x, w, y, mean, rstd, eps): forward; mean and rstd (one per row) are for the backward
static napi_value LayerNorm(napi_env env, napi_callback_info info) {
  ARGS(6);
  size_t N, C, R;
  float *x = f32(env, argv[0], &N), *w = f32(env, argv[1], &C), *y, *mean, *rstd;
  double eps;
  if (!x || !w || C == 0 || N % C || napi_get_value_double(env, argv[5], &eps) != napi_ok) BAD("layerNorm");
  R = N / C;
  if (!opt_f32(env, argv[2], &y, N) || !y || !opt_f32(env, argv[3], &mean, R) || !mean || !opt_f32(env, argv[4], &rstd, R) || !rstd)
    BAD("layerNorm");
  LnArgs A = {x, w, NULL, y, mean, rstd, NULL, C, eps};
  parallel_rows(ln_fwd_rows, &A, R, C, 0, NULL, NULL, NULL);
  return NULL;
}

// layerNormBwd(x, w, mean, rstd, dy, dx, dw: Float64Array[C]): dw is added to
static napi_value LayerNormBwd(napi_env env, napi_callback_info info) {
  ARGS(7);
  size_t N, C, R;
  float *x = f32(env, argv[0], &N), *w = f32(env, argv[1], &C), *mean, *rstd, *dy, *dx;
  if (!x || !w || C == 0 || N % C) BAD("layerNormBwd");
  R = N / C;
  double *dw = f64(env, argv[6], C), *scratch;
  if (!opt_f32(env, argv[2], &mean, R) || !mean || !opt_f32(env, argv[3], &rstd, R) || !rstd || !opt_f32(env, argv[4], &dy, N) || !dy ||
      !opt_f32(env, argv[5], &dx, N) || !dx || !dw)
    BAD("layerNormBwd");
  scratch = calloc(C, sizeof(double)); // parallel_rows sums two arrays; the second is unused here
  if (!scratch) {
    napi_throw_error(env, NULL, "ldnative.layerNormBwd: out of memory");
    return NULL;
  }
  LnArgs A = {x, w, dy, NULL, mean, rstd, dx, C, 0};
  parallel_rows(ln_bwd_rows, &A, R, C, C, NULL, dw, scratch);
  free(scratch);
  return NULL;
}

// lastThreads(): how many threads the last split call used
// ---------------------------------------------------------------------------- analysis
// The per-token statistics of inference.ts's siteStats (and, given A and B, of chanceStats: the
// masks of untrained A/B made on the fly from the site's input), over the owned tokens' rows: per
// token, units with m ≥ 0.5, Σm, Σ|2m − 1| and the count, and the quantized rows (round(255·m))
// where asked. Values as the JS loops give them: m as float32, except that a chance mask's cos is
// the kernels' polynomial (|error| < 3e-8; JS: Math.cos), so it may differ from JS's in its last bits.
// m = ½·cos(a ⊙ x + b) + ½ as float32 over a span, cos by sincos_reduced (as mask_span), so that
// it vectorizes; returns 1 if some |k| > 1e6 (the caller redoes the span).
VECTOR_CLONES __attribute__((noinline)) static int chance_span(const float *restrict x, const float *restrict a,
                                                              const float *restrict b, int n, float *restrict m) {
  int bad = 0;
  for (int j = 0; j < n; j++) {
    const SinCos sc = sincos_reduced((double)a[j] * x[j] + b[j]);
    bad |= sc.big;
    m[j] = (float)(0.5 * sc.cosz + 0.5);
  }
  return bad;
}

// A token's Σm, Σ|2m − 1| and count of m ≥ 0.5 over a span, added into 8 lanes (element j into
// lane j mod 8): one dependency chain per lane instead of one for the span, so that the loop
// vectorizes (a sum of doubles in one chain waits on each add). The caller adds the lanes in a
// fixed order: the same bits whatever the thread split.
VECTOR_CLONES __attribute__((noinline)) static void lane_sums(const float *restrict v, int n, double *restrict s, double *restrict d, int32_t *restrict a) {
  int j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; l++) {
      const double m = v[j + l];
      s[l] += m;
      d[l] += fabs(2 * m - 1);
      a[l] += m >= 0.5;
    }
  for (int l = 0; j < n; j++, l++) {
    const double m = v[j];
    s[l] += m;
    d[l] += fabs(2 * m - 1);
    a[l] += m >= 0.5;
  }
}
static double lanes_total(const double *x) { return ((x[0] + x[1]) + (x[2] + x[3])) + ((x[4] + x[5]) + (x[6] + x[7])); }

typedef struct {
  const float *v, *a, *b; // masks; or inputs with a, b
  const int32_t *own;     // (row, position, token) per owned token
  int attention, W, heads, len, T, qUnits, maskFrom, maskTo;
  double *act, *sum, *dec, *cnt;
  uint8_t *q;
} StatsArgs;
static void stats_rows(Task *task, size_t o0, size_t o1) {
  const StatsArgs *S = task->args;
  float one, *m = S->a ? task_scratch(task, (size_t)S->len * sizeof(float)) : &one; // a chance row
  if (!m) {
    task->hsum = 1; // reported: out of memory
    return;
  }
  for (size_t o = o0; o < o1; o++) {
    const int r = S->own[3 * o], t = S->own[3 * o + 1], i = S->own[3 * o + 2];
    const int counted = S->attention ? t + 1 : S->len;
    const int keep = S->q && i >= S->maskFrom && i < S->maskTo;
    double sm[8] = {0}, d[8] = {0};
    int32_t a[8] = {0};
    for (int h = 0; h < S->heads; h++) {
      const size_t row = ((size_t)(r * S->heads + h) * S->W + t) * S->len;
      const float *v = S->v + row;
      if (S->a) {
        if (chance_span(v, S->a, S->b, counted, m))
          for (int j = 0; j < counted; j++) m[j] = (float)(0.5 * cos((double)S->a[j] * v[j] + S->b[j]) + 0.5);
        lane_sums(m, counted, sm, d, a);
        continue;
      }
      if (keep) {
        uint8_t *q = S->q + (size_t)(i - S->maskFrom) * S->qUnits + (size_t)h * S->T;
        for (int j = 0; j < S->len; j++) q[j] = (uint8_t)(int)((double)v[j] * 255 + 0.5);
      }
      lane_sums(v, counted, sm, d, a);
    }
    S->act[o] = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    S->sum[o] = lanes_total(sm);
    S->dec[o] = lanes_total(d);
    S->cnt[o] = (double)S->heads * counted;
  }
}

// rowStats(v, a?, b?, own: Int32Array, out: Float64Array[4·owned] = act ‖ sum ‖ dec ‖ cnt, q?: Uint8Array,
//          [attention, W, heads, len, T, qUnits, maskFrom, maskTo])
static napi_value RowStats(napi_env env, napi_callback_info info) {
  ARGS(7);
  StatsArgs S;
  size_t nv, nown, nq = 0;
  int32_t k[8];
  napi_typedarray_type type;
  void *data;
  S.v = f32(env, argv[0], &nv);
  if (!S.v) BAD("rowStats");
  if (napi_get_typedarray_info(env, argv[3], &type, &nown, &data, NULL, NULL) != napi_ok || type != napi_int32_array || nown % 3) BAD("rowStats");
  S.own = data;
  const size_t owned = nown / 3;
  napi_value ints = argv[6];
  for (uint32_t j = 0; j < 8; j++) {
    napi_value e;
    if (napi_get_element(env, ints, j, &e) != napi_ok || napi_get_value_int32(env, e, &k[j]) != napi_ok) BAD("rowStats");
  }
  S.attention = k[0], S.W = k[1], S.heads = k[2], S.len = k[3], S.T = k[4], S.qUnits = k[5], S.maskFrom = k[6], S.maskTo = k[7];
  float *a, *b;
  if (!opt_f32(env, argv[1], &a, (size_t)S.len) || !opt_f32(env, argv[2], &b, (size_t)S.len) || !a != !b) BAD("rowStats");
  S.a = a, S.b = b;
  double *out = f64(env, argv[4], 4 * owned);
  if (!out) BAD("rowStats");
  S.act = out, S.sum = out + owned, S.dec = out + 2 * owned, S.cnt = out + 3 * owned;
  napi_valuetype qt;
  if (napi_typeof(env, argv[5], &qt) != napi_ok) BAD("rowStats");
  S.q = NULL;
  if (qt != napi_null && qt != napi_undefined) {
    if (napi_get_typedarray_info(env, argv[5], &type, &nq, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) BAD("rowStats");
    S.q = data;
  }
  // every row read lies inside v, every quantized row inside q
  if (S.W < 1 || S.heads < 1 || S.len < 1 || (S.attention && S.len != S.W) || S.T < S.len || S.qUnits < S.heads * (S.attention ? S.T : S.len)) BAD("rowStats");
  for (size_t o = 0; o < owned; o++) {
    const int r = S.own[3 * o], t = S.own[3 * o + 1], i = S.own[3 * o + 2];
    if (r < 0 || t < 0 || t >= S.W || ((size_t)((r + 1) * S.heads) * S.W) * S.len > nv) BAD("rowStats");
    if (S.q && i >= S.maskFrom && i < S.maskTo && (size_t)(i - S.maskFrom + 1) * S.qUnits > nq) BAD("rowStats");
  }
  double out3[3] = {0, 0, 0};
  parallel_rows(stats_rows, &S, owned, (size_t)S.heads * S.len * (S.a ? 8 : 1), 0, out3, NULL, NULL);
  if (out3[0] > 0) {
    napi_throw_error(env, NULL, "ldnative.rowStats: out of memory");
    return NULL;
  }
  return NULL;
}

// rowLogSumExp(z: Float32Array, V, rows: Int32Array, out: Float64Array): out[k] = log Σ_j exp(z[rows[k]·V + j])
// (inference.ts's logSumExp: the analysis's log-probabilities of the rows it reads), shifted by
// the row's maximum; exp by exp_span (a degree-7 polynomial: relative error < 1e-8), log by libm.
typedef struct {
  const float *z;
  const int32_t *rows;
  double *out;
  size_t V;
} LseArgs;
static void lse_rows(Task *task, size_t k0, size_t k1) {
  const LseArgs *L = task->args;
  double *ex = task_scratch(task, L->V * sizeof(double));
  if (!ex) {
    task->hsum = 1; // reported: out of memory
    return;
  }
  for (size_t k = k0; k < k1; k++) {
    const float *z = L->z + (size_t)L->rows[k] * L->V;
    double mx = -INFINITY, sum = 0;
    for (size_t j = 0; j < L->V; j++)
      if (z[j] > mx) mx = z[j];
    exp_span(z, mx, 1, ex, L->V);
    for (size_t j = 0; j < L->V; j++) sum += ex[j];
    L->out[k] = mx + log(sum);
  }
}
static napi_value RowLogSumExp(napi_env env, napi_callback_info info) {
  ARGS(4);
  size_t N, nrows;
  int32_t V;
  napi_typedarray_type type;
  void *data;
  const float *z = f32(env, argv[0], &N);
  if (!z || napi_get_value_int32(env, argv[1], &V) != napi_ok || V < 1 || N % V) BAD("rowLogSumExp");
  if (napi_get_typedarray_info(env, argv[2], &type, &nrows, &data, NULL, NULL) != napi_ok || type != napi_int32_array) BAD("rowLogSumExp");
  const int32_t *rows = data;
  double *out = f64(env, argv[3], nrows);
  if (!out) BAD("rowLogSumExp");
  for (size_t k = 0; k < nrows; k++)
    if (rows[k] < 0 || (size_t)rows[k] >= N / V) BAD("rowLogSumExp");
  LseArgs L = {z, rows, out, (size_t)V};
  double out3[3] = {0, 0, 0};
  parallel_rows(lse_rows, &L, nrows, (size_t)V * 8, 0, out3, NULL, NULL);
  if (out3[0] > 0) napi_throw_error(env, NULL, "ldnative.rowLogSumExp: out of memory");
  return NULL;
}

static napi_value LastThreads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  napi_create_int32(env, last_threads, &v);
  return v;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, Open, NULL, NULL, NULL, napi_default, NULL},
      {"gemm", NULL, Gemm, NULL, NULL, NULL, napi_default, NULL},
      {"gelu", NULL, Gelu, NULL, NULL, NULL, napi_default, NULL},
      {"ldTables", NULL, LdTables, NULL, NULL, NULL, napi_default, NULL},
      {"ldFwd", NULL, LdFwd, NULL, NULL, NULL, napi_default, NULL},
      {"ldBwd", NULL, LdBwd, NULL, NULL, NULL, napi_default, NULL},
      {"attnFwd", NULL, AttnFwd, NULL, NULL, NULL, napi_default, NULL},
      {"attnBwd", NULL, AttnBwd, NULL, NULL, NULL, napi_default, NULL},
      {"layerNorm", NULL, LayerNorm, NULL, NULL, NULL, napi_default, NULL},
      {"layerNormBwd", NULL, LayerNormBwd, NULL, NULL, NULL, napi_default, NULL},
      {"lastThreads", NULL, LastThreads, NULL, NULL, NULL, napi_default, NULL},
      {"rowStats", NULL, RowStats, NULL, NULL, NULL, napi_default, NULL},
      {"rowLogSumExp", NULL, RowLogSumExp, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
