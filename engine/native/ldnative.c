// Native CPU kernels for the wasm backend: the matrix products through the system's BLAS
// (OpenBLAS: AVX2/AVX-512 with FMA and all cores, where wasm has 128-bit SIMD without FMA on one
// thread). The tensors stay on tfjs-wasm's heap: JS passes Float32Array views of it and this code
// works on them in place. BLAS is opened with dlopen at first use, so the addon loads (and says
// why not) on machines without it. Built by scripts/build-native.mjs with plain gcc and Node-API
// headers; no node-gyp, no link-time dependency.
#define NAPI_VERSION 8
#include <node_api.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
typedef void (*sgemm_fn)(int order, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc);
typedef int (*get_threads_fn)(void);
typedef char *(*get_config_fn)(void);

static sgemm_fn sgemm;
static get_threads_fn get_threads;
static get_config_fn get_config;
static char blas_name[512];
static char blas_error[512];

static int open_blas(const char *path) {
  if (sgemm) return 1;
  const char *candidates[] = {path, "libopenblas.so.0", "libopenblas.so", "libopenblas.dylib", "libblis.so.4", "libblas.so.3", NULL};
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
  for (int i = 0; i < n1; i++)
    for (int j = 0; j < n2; j++) {
      float *cij = c + (size_t)i * sc1 + (size_t)j * sc2;
      if (K == 0) {
        for (int r = 0; r < M; r++) memset(cij + (size_t)r * ldc, 0, (size_t)N * sizeof(float));
        continue;
      }
      if (M == 0 || N == 0) continue;
      sgemm(RowMajor, ta ? Trans : NoTrans, tb ? Trans : NoTrans, M, N, K, 1.0f, a + (size_t)i * sa1 + (size_t)j * sa2, lda,
            b + (size_t)i * sb1 + (size_t)j * sb2, ldb, 0.0f, cij, ldc);
    }
  return NULL;
}

// ---------------------------------------------------------------------------- GELU (exact, erf)
// erf by the rational approximation XLA and Eigen use for float32 (abs. error ~1e-7), and e^x by
// Cody–Waite reduction and a degree-6 polynomial: both branch-free, so the loops vectorize (AVX2
// clone where the CPU has it).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

static inline float erf_f(float x) {
  x = x < -4.0f ? -4.0f : x > 4.0f ? 4.0f : x;
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

// e^x for x ≤ 0 (the GELU's density needs only those); underflows to 0 below −87.
static inline float exp_neg_f(float x) {
  x = x < -87.0f ? -87.0f : x;
  float n = (float)(int32_t)(x * 1.44269504088896341f - 0.5f); // round to nearest (x ≤ 0)
  float r = x - n * 0.693359375f - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  union { float f; int32_t i; } s = {.i = ((int32_t)n + 127) << 23};
  return p * s.f;
}

VECTOR_CLONES static void gelu_fwd(const float *u, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = 0.5f * u[i] * (1.0f + erf_f(u[i] * 0.70710678118654752f));
}

// du = dy · (Φ(u) + u·φ(u)),  Φ(u) = ½(1 + erf(u/√2)),  φ(u) = e^(−u²/2)/√(2π)
VECTOR_CLONES static void gelu_bwd(const float *u, const float *dy, float *du, size_t n) {
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

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, Open, NULL, NULL, NULL, napi_default, NULL},
      {"gemm", NULL, Gemm, NULL, NULL, NULL, napi_default, NULL},
      {"gelu", NULL, Gelu, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
