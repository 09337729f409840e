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

// matmul(a, b, c, batch, M, N, K, transA, transB, strideA, strideB): for i < batch,
// c[i] (M×N) = op(a[i]) · op(b[i]), with a[i] at i·strideA floats (0: broadcast), row-major.
static napi_value MatMul(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 11 || !sgemm) {
    napi_throw_error(env, NULL, sgemm ? "ldnative.matmul: 11 arguments" : "ldnative.matmul: no BLAS (call open first)");
    return NULL;
  }
  size_t la, lb, lc;
  float *a = f32(env, argv[0], &la), *b = f32(env, argv[1], &lb), *c = f32(env, argv[2], &lc);
  int32_t n[6];
  bool ta, tb;
  for (int i = 0; i < 4; i++) CHECK(napi_get_value_int32(env, argv[3 + i], &n[i]));
  CHECK(napi_get_value_bool(env, argv[7], &ta));
  CHECK(napi_get_value_bool(env, argv[8], &tb));
  CHECK(napi_get_value_int32(env, argv[9], &n[4]));
  CHECK(napi_get_value_int32(env, argv[10], &n[5]));
  int batch = n[0], M = n[1], N = n[2], K = n[3], sa = n[4], sb = n[5];
  if (!a || !b || !c || batch < 0 || M < 0 || N < 0 || K < 0 || sa < 0 || sb < 0 ||
      (size_t)(batch - 1) * sa + (size_t)M * K > la || (size_t)(batch - 1) * sb + (size_t)K * N > lb ||
      (size_t)batch * M * N > lc) {
    napi_throw_range_error(env, NULL, "ldnative.matmul: operands smaller than their shapes");
    return NULL;
  }
  if (K == 0) {
    memset(c, 0, (size_t)batch * M * N * sizeof(float));
    return NULL;
  }
  for (int i = 0; i < batch; i++) {
    sgemm(RowMajor, ta ? Trans : NoTrans, tb ? Trans : NoTrans, M, N, K, 1.0f, a + (size_t)i * sa, ta ? M : K,
          b + (size_t)i * sb, tb ? K : N, 0.0f, c + (size_t)i * M * N, N);
  }
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, Open, NULL, NULL, NULL, napi_default, NULL},
      {"matmul", NULL, MatMul, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
